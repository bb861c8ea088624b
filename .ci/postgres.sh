#!/usr/bin/env bash
# A throwaway PostgreSQL server for the store tests, on 127.0.0.1.
#
#   eval "$(bash .ci/postgres.sh)"        # install if needed, start, export PASSENDEZORG_TEST_PG
#   bash .ci/postgres.sh stop             # stop the server started above (uses PASSENDEZORG_TEST_PG_DATA)
#
# Installs Debian's postgresql package when no server is installed, makes a new cluster in a
# temporary folder (trust authentication, listening on loopback only), starts it on a free port,
# creates the database passendezorg_test, and prints the export lines on stdout (all else goes to
# stderr). As root, the cluster runs as the postgres user.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-start}" = stop ]; then
    data="${PASSENDEZORG_TEST_PG_DATA:?PASSENDEZORG_TEST_PG_DATA is not set}"
    pg_ctl="$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1)"
    as_owner "$pg_ctl" -D "$data" -m fast -w stop >&2
    exit 0
fi

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

bin="$(find_bin)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    log "installing postgresql (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    bin="$(find_bin)"
fi
[ -x "$bin/initdb" ] || { log "no initdb found under /usr/lib/postgresql"; exit 1; }

dir="$(mktemp -d /tmp/passendezorg-pg.XXXXXX)"
chmod 755 "$dir"
if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

log "initdb in $dir/data ($("$bin/postgres" --version))"
as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
log "starting on 127.0.0.1:$port"
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=100" start >&2 \
    || { cat "$dir/server.log" >&2; exit 1; }
as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres passendezorg_test

echo "export PASSENDEZORG_TEST_PG=postgresql+psycopg://postgres@127.0.0.1:$port/passendezorg_test"
echo "export PASSENDEZORG_TEST_PG_DATA=$dir/data"
