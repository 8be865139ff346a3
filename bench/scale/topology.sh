#!/usr/bin/env bash
# The scale rehearsal's topology on one machine, from Debian's packages (as root):
#   primary PostgreSQL 5440 -> streaming replica 5441 (pg_basebackup -R)
#   PgBouncer 6440 (transaction mode) in front of the primary
#   two `ceasefire serve` processes (8301, 8302) behind nginx 8300 (proxy_cache)
#   one `ceasefire serve` on 8310 straight to the primary: the single-process baseline
# Never touches the shared cluster on 5432: everything lives under $SCALE_DIR.
#
#   bench/scale/topology.sh install        # nginx-light, pgbouncer (idempotent)
#   bench/scale/topology.sh up DIR         # clusters, pooler (the API comes from Python)
#   bench/scale/topology.sh down DIR       # stops everything under DIR, removes it
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PRIMARY_PORT=${PRIMARY_PORT:-5440}
REPLICA_PORT=${REPLICA_PORT:-5441}
BOUNCER_PORT=${BOUNCER_PORT:-6440}

say() { printf '[topology] %s\n' "$*"; }
as_postgres() { runuser -u postgres -- "$@"; }

install() {
  if dpkg -s nginx-light pgbouncer >/dev/null 2>&1; then
    return
  fi
  say "installing nginx-light and pgbouncer (Debian packages)"
  for _ in $(seq 1 60); do
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends nginx-light pgbouncer >/dev/null; then
      return
    fi
    say "apt busy (dpkg lock?): retrying in 10 s"
    sleep 10
  done
  exit 1
}

cluster_conf() {  # DATA PORT DIR
  cat >>"$1/postgresql.conf" <<CONF
port = $2
listen_addresses = '127.0.0.1'
unix_socket_directories = '$3'
max_connections = 200
shared_buffers = 256MB
wal_level = replica
max_wal_senders = 4
wal_keep_size = 512MB
hot_standby = on
hot_standby_feedback = on
synchronous_commit = on
fsync = on
logging_collector = off
CONF
}

up() {
  local dir=$1
  mkdir -p "$dir"
  chmod 755 "$dir"
  chown postgres "$dir"
  say "primary cluster on $PRIMARY_PORT ($dir/primary)"
  as_postgres "$PG_BIN/initdb" -D "$dir/primary" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >"$dir/initdb.log"
  cluster_conf "$dir/primary" "$PRIMARY_PORT" "$dir"
  printf 'host replication postgres 127.0.0.1/32 trust\n' >>"$dir/primary/pg_hba.conf"
  as_postgres "$PG_BIN/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w start >/dev/null

  say "streaming replica on $REPLICA_PORT (pg_basebackup -R)"
  as_postgres "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
    -D "$dir/replica" -R -X stream -c fast
  sed -i "s/^port = $PRIMARY_PORT/port = $REPLICA_PORT/" "$dir/replica/postgresql.conf"
  as_postgres "$PG_BIN/pg_ctl" -D "$dir/replica" -l "$dir/replica.log" -w start >/dev/null

  say "PgBouncer on $BOUNCER_PORT (transaction mode)"
  printf '"postgres" ""\n' >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
; The API connects here with CEASEFIRE_DB_POOLED=true, which sends no startup options: each
; server connection gets the service's statement timeout instead.
* = host=127.0.0.1 port=$PRIMARY_PORT connect_query='SET statement_timeout = 15000'
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
; After the primary comes back, reconnect within a second (the default, 15 s, kept
; writes failing for seconds after a crash-restart in the rehearsal).
server_login_retry = 1
default_pool_size = 20
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
pidfile = $dir/pgbouncer.pid
logfile = $dir/pgbouncer.log
INI
  chown postgres "$dir/userlist.txt" "$dir/pgbouncer.ini"
  as_postgres pgbouncer -d "$dir/pgbouncer.ini"
}

nginx_up() {  # DIR LISTEN UPSTREAM_PORT...
  local dir=$1 listen=$2
  shift 2
  mkdir -p "$dir/nginx/cache" "$dir/nginx/tmp" "$dir/nginx/logs"
  chmod -R 777 "$dir/nginx"
  local servers=""
  for port in "$@"; do servers+="    server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'; done
  sed -e "s|@DIR@|$dir|g" -e "s|@LISTEN@|$listen|g" \
    "$(dirname "$0")/nginx.conf" | awk -v s="$servers" '{ sub(/@SERVERS@/, s); print }' \
    >"$dir/nginx/nginx.conf"
  nginx -t -q -p "$dir/nginx" -c "$dir/nginx/nginx.conf"
  nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf"
}

down() {
  local dir=$1
  [ -d "$dir" ] || return 0
  if [ -f "$dir/nginx/nginx.pid" ]; then
    nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -s stop 2>/dev/null || true
  fi
  if [ -f "$dir/pgbouncer.pid" ]; then
    kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
  fi
  for cluster in replica primary; do
    if [ -f "$dir/$cluster/postmaster.pid" ]; then
      as_postgres "$PG_BIN/pg_ctl" -D "$dir/$cluster" -m fast -w stop >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$dir"
}

case "${1:-}" in
  install) install ;;
  up) up "$2" ;;
  nginx) shift; nginx_up "$@" ;;
  down) down "$2" ;;
  *) echo "usage: $0 install | up DIR | nginx DIR LISTEN PORT... | down DIR" >&2; exit 2 ;;
esac
