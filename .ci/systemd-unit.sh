#!/usr/bin/env bash
# Checks deploy/preenroll.service with systemd's own parser, offline (no
# systemd runs here): `systemd-analyze verify` on a copy whose ExecStart is a
# freshly built preenroll, failing on anything it prints (an unknown key is
# only a warning to it), then `systemd-analyze security --offline` with a
# threshold, so the hardening the unit claims cannot quietly go. Run as root
# on Debian; called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v systemd-analyze >/dev/null; then
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
CGO_ENABLED=0 go build -o "$dir/preenroll" ./cmd/preenroll
grep -q '^ExecStart=/usr/local/bin/preenroll serve$' deploy/preenroll.service ||
	{ echo "deploy/preenroll.service: no 'ExecStart=/usr/local/bin/preenroll serve' line to check" >&2; exit 1; }
sed "s|^ExecStart=/usr/local/bin/preenroll |ExecStart=$dir/preenroll |" deploy/preenroll.service >"$dir/preenroll.service"
out=$(systemd-analyze verify "$dir/preenroll.service" 2>&1) || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then
	echo "systemd-analyze verify deploy/preenroll.service:" >&2
	echo "$out" >&2
	exit 1
fi
# "exposure level" 0 (best) to 10; the unit scores 3.2 (OK) on Debian 12's
# systemd 252, 4.0 without ProtectSystem, ProtectHome, PrivateDevices and
# NoNewPrivileges. Fail if hardening is lost.
systemd-analyze security --offline=yes --threshold=35 "$dir/preenroll.service" >"$dir/security" 2>&1 ||
	{ cat "$dir/security" >&2; echo "deploy/preenroll.service: exposure above 3.5" >&2; exit 1; }
tail -1 "$dir/security"
