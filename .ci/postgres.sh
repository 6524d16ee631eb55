#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests of fulfillment/pgstore.
#
#   source .ci/postgres.sh start   # install if needed, start, export PREENROLL_POSTGRES_URL
#   source .ci/postgres.sh stop    # stop the cluster by its PID and delete its directory
#   bash .ci/postgres.sh start     # same, printing the export lines: eval "$(bash .ci/postgres.sh start)"
#   bash .ci/postgres.sh stop DIR  # stop the cluster started in DIR
#   bash .ci/postgres.sh pause DIR # stop its server, keep its data (a test's outage)
#   bash .ci/postgres.sh resume DIR # start the paused server again on its port
#
# The cluster lives in a fresh temporary directory (data, Unix socket, log),
# runs as a non-root user (PostgreSQL refuses root: the "postgres" system
# user the Debian package creates), listens on a Unix socket in that
# directory and on 127.0.0.1 at a free port below 32768 (never 5432), trusts
# local connections, and has one database, "preenroll", owned by the
# superuser "preenroll". Debian's binaries are in /usr/lib/postgresql/<ver>/bin.

_pg_die() { echo "postgres.sh: $*" >&2; return 1; }

_pg_bin() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

_pg_install() {
	if _pg_bin >/dev/null; then return 0; fi
	[ "$(id -u)" = 0 ] || _pg_die "PostgreSQL is not installed and we are not root to apt-get it" || return 1
	echo "postgres.sh: installing Debian's postgresql" >&2
	apt-get update -qq >&2 &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2 ||
		_pg_die "apt-get install postgresql failed" || return 1
	_pg_bin >/dev/null || _pg_die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb" || return 1
}

# _pg_as runs a command as the cluster's (non-root) user.
_pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$_PG_USER" -- "$@"
	else
		"$@"
	fi
}

_pg_free_port() {
	local port tries
	for tries in $(seq 1 50); do
		port=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	_pg_die "no free port found"
}

# _pg_ctl_start starts the server of the cluster in $2 (binaries in $1) on
# port $3: loopback and a Unix socket in $2. fsync off: a throwaway cluster
# need not survive a power cut.
_pg_ctl_start() {
	local bin=$1 dir=$2 port=$3
	_pg_as "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >&2
}

preenroll_pg_start() {
	_pg_install || return 1
	local bin dir port attempt
	bin=$(_pg_bin)
	_PG_USER=$(id -un)
	if [ "$(id -u)" = 0 ]; then
		_PG_USER=postgres
		id -u "$_PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$_PG_USER" ||
			_pg_die "cannot create user $_PG_USER" || return 1
	fi
	dir=$(mktemp -d /tmp/preenroll-pg.XXXXXX) || return 1
	chmod 0755 "$dir"
	[ "$(id -u)" = 0 ] && chown "$_PG_USER" "$dir"
	# The default collation is ICU's English, not byte order, so that a
	# test depending on the collation notices (the stores sort user IDs by
	# their bytes); plain C.UTF-8 where PostgreSQL has no ICU.
	local icu=(--locale-provider=icu --icu-locale=en)
	"$bin/initdb" --help 2>/dev/null | grep -q -- --locale-provider || icu=()
	_pg_as "$bin/initdb" --pgdata="$dir/data" --username=preenroll --auth=trust \
		--encoding=UTF8 --locale=C.UTF-8 "${icu[@]}" --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; _pg_die "initdb failed"; return 1; }
	for attempt in 1 2 3 4 5; do
		port=$(_pg_free_port) || return 1
		if _pg_ctl_start "$bin" "$dir" "$port"; then
			break
		fi
		port=""
	done
	[ -n "$port" ] || { cat "$dir/server.log" >&2; _pg_die "the server did not start"; return 1; }
	echo "$port" >"$dir/port"
	_pg_as "$bin/createdb" --host="$dir" --port="$port" --username=preenroll preenroll ||
		_pg_die "createdb failed" || return 1
	export PREENROLL_PG_DIR="$dir"
	export PREENROLL_PG_PID
	PREENROLL_PG_PID=$(head -n 1 "$dir/data/postmaster.pid")
	export PREENROLL_POSTGRES_URL="postgres://preenroll@127.0.0.1:$port/preenroll?sslmode=disable"
	echo "postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') (pid $PREENROLL_PG_PID) at $PREENROLL_POSTGRES_URL, socket and data in $dir" >&2
}

# _pg_dir_ok refuses a directory that is not one of ours.
_pg_dir_ok() {
	case "$1" in /tmp/preenroll-pg.*) ;; *) _pg_die "refusing a cluster outside /tmp/preenroll-pg.*: $1"; return 1 ;; esac
	[ -d "$1/data" ] || _pg_die "no cluster in $1"
}

# preenroll_pg_pause stops the server of the cluster in $1 (fast shutdown)
# and keeps its data: the tests' "database gone for a while".
preenroll_pg_pause() {
	local dir=$1
	_pg_dir_ok "$dir" || return 1
	_PG_USER=$(stat -c %U "$dir/data")
	_pg_as "$(_pg_bin)/pg_ctl" --pgdata="$dir/data" --mode=fast --wait --timeout=60 stop >&2
}

# preenroll_pg_resume starts the paused cluster in $1 again, on its port.
preenroll_pg_resume() {
	local dir=$1 port
	_pg_dir_ok "$dir" || return 1
	_PG_USER=$(stat -c %U "$dir/data")
	port=$(cat "$dir/port") || return 1
	_pg_ctl_start "$(_pg_bin)" "$dir" "$port"
}

# preenroll_pg_stop stops the cluster in $1 (default $PREENROLL_PG_DIR) by
# the PID in its postmaster.pid (SIGINT: fast shutdown) and deletes it.
preenroll_pg_stop() {
	local dir=${1:-${PREENROLL_PG_DIR:-}} pid i
	[ -n "$dir" ] || return 0
	case "$dir" in /tmp/preenroll-pg.*) ;; *) _pg_die "refusing to stop a cluster outside /tmp/preenroll-pg.*: $dir"; return 1 ;; esac
	if [ -f "$dir/data/postmaster.pid" ]; then
		pid=$(head -n 1 "$dir/data/postmaster.pid")
		if [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null; then
			for i in $(seq 1 300); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1 # waiting for another process to exit; not in a test
			done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
		fi
	fi
	rm -rf "$dir"
	if [ "${PREENROLL_PG_DIR:-}" = "$dir" ]; then
		unset PREENROLL_PG_DIR PREENROLL_PG_PID PREENROLL_POSTGRES_URL
	fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	# Executed: print the variables for eval.
	set -euo pipefail
	case "${1:-start}" in
	start)
		preenroll_pg_start
		printf 'export PREENROLL_PG_DIR=%q PREENROLL_PG_PID=%q PREENROLL_POSTGRES_URL=%q\n' \
			"$PREENROLL_PG_DIR" "$PREENROLL_PG_PID" "$PREENROLL_POSTGRES_URL"
		;;
	stop) preenroll_pg_stop "${2:-}" ;;
	pause) preenroll_pg_pause "${2:?usage: $0 pause DIR}" ;;
	resume) preenroll_pg_resume "${2:?usage: $0 resume DIR}" ;;
	install) _pg_install ;;
	*) _pg_die "usage: $0 start | stop [DIR] | pause DIR | resume DIR | install" ;;
	esac
else
	# Sourced: act on the caller's shell.
	case "${1:-}" in
	start) preenroll_pg_start ;;
	stop) preenroll_pg_stop "${2:-}" ;;
	"") ;; # only define the functions
	*) _pg_die "usage: source .ci/postgres.sh start | stop [DIR]" ;;
	esac
fi
