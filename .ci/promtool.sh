#!/usr/bin/env bash
# promtool, Prometheus's own checker of rule files, for deploy/alerts.yml
# and its unit tests (deploy/alerts_test.yml). It is taken from Debian's
# prometheus package without installing that (its maintainer scripts would
# add a user and start a Prometheus server): the .deb is downloaded and
# unpacked into a directory of its own, kept for the next run. Run as root
# on Debian; called by .ci/run.
#
#   bash .ci/promtool.sh          print the path of promtool
#   bash .ci/promtool.sh ARGS...  run promtool ARGS... (e.g. test rules
#                                 deploy/alerts_test.yml)
#
# PREENROLL_PROMTOOL_DIR overrides where the package is unpacked (default
# ~/.cache/preenroll/prometheus: not a world-writable place, as root runs
# what is found there).
set -euo pipefail

dir="${PREENROLL_PROMTOOL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/preenroll/prometheus}"
promtool="$dir/usr/bin/promtool"
if [ ! -x "$promtool" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# apt's download runs as its user _apt, which must be able to write here.
	chown _apt "$tmp"
	apt-get update >&2
	(cd "$tmp" && apt-get download prometheus) >&2
	dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
	mkdir -p "$(dirname "$dir")"
	rm -rf "$dir"
	mv "$tmp/root" "$dir"
	rm -rf "$tmp" # before exec, which skips the trap
	trap - EXIT
fi
if [ $# -eq 0 ]; then
	echo "$promtool"
else
	exec "$promtool" "$@"
fi
