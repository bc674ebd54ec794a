#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `cluster.sh start DIR` prints
# the admin URL (postgres://postgres@127.0.0.1:PORT/postgres) on stdout;
# `cluster.sh stop DIR` stops it (fast: open sessions are ended);
# `cluster.sh restart DIR` is both and prints the URL again. The port is
# chosen at the first start and kept in DIR, so that a cluster stopped and
# started again answers at the same URL (what a client reconnects to).
# Installs Debian's PostgreSQL when missing.
# initdb refuses to run as root: as root, the cluster runs as the `postgres`
# user, in DIR, which it then owns. Trust authentication, 127.0.0.1 only.
set -euo pipefail
cmd=${1:?usage: cluster.sh start|stop|restart DIR}
dir=$(realpath -m "${2:?usage: cluster.sh start|stop|restart DIR}")

bin=""
for candidate in /usr/lib/postgresql/*/bin; do
  [ -x "$candidate/initdb" ] && bin=$candidate
done
if [ -z "$bin" ] && [ "$cmd" != stop ]; then
  echo "installing PostgreSQL from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  for candidate in /usr/lib/postgresql/*/bin; do
    [ -x "$candidate/initdb" ] && bin=$candidate
  done
fi
[ -n "$bin" ] || { echo "error: no PostgreSQL found under /usr/lib/postgresql" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# As root, the cluster lives where the postgres user can reach it: DIR if it
# can (not under a 0700 home, say), else a folder of its own under /tmp,
# named in DIR/where so that `stop` finds it.
mkdir -p "$dir"
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$(dirname "$dir")"; then
  where=$(cat "$dir/where" 2>/dev/null || mktemp -d /tmp/minijwt-pg.XXXXXX)
  echo "$where" > "$dir/where"
  echo "note: the postgres user cannot reach $dir; the cluster is in $where" >&2
  dir=$where
fi

start() {
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
  fi
  # A free port at the first start (ask the kernel for one, then give it to
  # PostgreSQL), the same one at every later start of this cluster.
  if [ -f "$dir/port" ]; then
    port=$(cat "$dir/port")
  else
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    echo "$port" > "$dir/port"
  fi
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300" start >/dev/null
  echo "postgres://postgres@127.0.0.1:$port/postgres"
}

stop() {
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

case "$cmd" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
*)
  echo "usage: cluster.sh start|stop|restart DIR" >&2; exit 2 ;;
esac
