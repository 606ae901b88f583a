#!/bin/bash
# tests/pg.sh start|stop DIR: a private PostgreSQL server for the tests,
# in DIR (its data, its log, its UNIX socket; no TCP port), run as user
# postgres when started as root (PostgreSQL refuses root).  start prints
# nothing and leaves the server running; the URL is
#   postgresql:///postgres?host=DIR
# and only the user who started it (and postgres) may connect, as
# themselves ("peer" authentication: no password, no other local user).
# stop stops it and removes DIR.  Debian's server binaries live in
# /usr/lib/postgresql/VERSION/bin (package postgresql, scripts/deps.sh).
set -euo pipefail
cmd=${1:?usage: pg.sh start|stop DIR}
dir=${2:?usage: pg.sh start|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[[ -x $bin/pg_ctl ]] || { echo "pg.sh: no PostgreSQL server (apt install postgresql)" >&2; exit 1; }
as_owner() { if (($(id -u) == 0)); then runuser -u postgres -- "$@"; else "$@"; fi; }

case $cmd in
start)
	if [[ -f $dir/data/postmaster.pid ]]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	chmod 711 "$dir"
	(($(id -u) != 0)) || chown postgres: "$dir"
	as_owner "$bin/initdb" -D "$dir/data" -A peer --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	# Tests only: no fsync, no TCP, the socket in DIR.
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-k $dir -c listen_addresses= -c fsync=off -c max_connections=200" start >/dev/null ||
		{ cat "$dir/server.log" >&2; exit 1; }
	# root connects as itself (the daemons under test run as root)
	if (($(id -u) == 0)); then
		runuser -u postgres -- "$bin/psql" -qX -h "$dir" -d postgres \
			-c "CREATE ROLE root SUPERUSER LOGIN" >/dev/null
	fi
	;;
stop)
	if [[ -f $dir/data/postmaster.pid ]]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: pg.sh start|stop DIR" >&2
	exit 2
	;;
esac
