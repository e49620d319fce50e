#!/usr/bin/env bash
# Start / stop PostgreSQL and NATS (JetStream) on 127.0.0.1 for the relay's scale-out tests.
#   eval "$(bash scripts/relay-services.sh start DIR)"   # exports SEALWIRE_RELAY_TEST_POSTGRES/_NATS
#   bash scripts/relay-services.sh stop DIR
# Installs the Debian packages `postgresql` and `nats-server` if missing. Everything lives in
# DIR (data, sockets, logs); nothing listens on anything but 127.0.0.1.
set -euo pipefail
cmd="${1:?start|stop}"; dir="${2:?directory}"

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

install_missing() {
  local need=()
  [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || need+=(postgresql)
  command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
  if [ "${#need[@]}" -gt 0 ]; then
    echo "installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${need[@]}" >&2 || { apt-get update -q >&2 && apt-get install -y -q "${need[@]}" >&2; }
  fi
}

case "$cmd" in
start)
  install_missing
  mkdir -p "$dir"
  bin="$(pg_bin)"
  pgport="$(free_port)"
  natsport="$(free_port)"
  mkdir -p "$dir/pg"
  [ "$(id -u)" = 0 ] && chown postgres "$dir/pg"
  as_pg "$bin/initdb" -D "$dir/pg/data" -U relay --auth=trust -E UTF8 >"$dir/pg/initdb.log" 2>&1
  as_pg "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
    -o "-p $pgport -k $dir/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >&2
  echo "$pgport" >"$dir/pg.port"
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$pgport" -U relay relay >&2
  nats="$(command -v nats-server || echo /usr/sbin/nats-server)"
  mkdir -p "$dir/nats"
  "$nats" -a 127.0.0.1 -p "$natsport" -js -sd "$dir/nats/js" >"$dir/nats/server.log" 2>&1 &
  echo $! >"$dir/nats.pid"
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$natsport") 2>/dev/null && break
    sleep 0.1
  done
  grep -q "Server is ready" "$dir/nats/server.log" || { sleep 1; grep -q "Server is ready" "$dir/nats/server.log"; } || {
    echo "nats-server did not start" >&2; cat "$dir/nats/server.log" >&2; exit 1; }
  echo "export SEALWIRE_RELAY_TEST_POSTGRES='host=127.0.0.1 port=$pgport user=relay dbname=relay'"
  echo "export SEALWIRE_RELAY_TEST_NATS='nats://127.0.0.1:$natsport'"
  ;;
stop)
  bin="$(pg_bin)"
  if [ -d "$dir/pg/data" ]; then as_pg "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w stop >&2 || true; fi
  if [ -f "$dir/nats.pid" ]; then kill "$(cat "$dir/nats.pid")" 2>/dev/null || true; rm -f "$dir/nats.pid"; fi
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
