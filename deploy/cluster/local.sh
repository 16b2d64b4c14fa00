#!/usr/bin/env bash
# deploy/cluster/local.sh up|down|status — a whole ArqonBus cluster on loopback ports, to try
# failover by hand (docs/deployment.md):
#   3 nats-server (a JetStream cluster, the strict users of deploy/nats/accounts.conf)
#   Redis primary + replica + 3 sentinels
#   2 arqon-brain (Sentinel, every NATS node), 2 arqon-shield (each behind another NATS node)
# Ports: NATS 14221-14223 (routes 16221-16223), Redis 16379/16380, sentinels 26379-26381,
# Shields 14001/14002, Brain metrics 19091/19092 (ARQON_CLUSTER_BASE moves them all).
# State and logs in $ARQON_CLUSTER_DIR (default .arqon-cluster/). Binaries from build/bin
# (ARQON_BIN_DIR). `down` stops everything `up` started; `status` runs `arq status` on both.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${ARQON_BIN_DIR:-build/bin}
DIR=${ARQON_CLUSTER_DIR:-.arqon-cluster}
OFF=${ARQON_CLUSTER_BASE:-0}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

nats_port() { echo $((14220 + $1 + OFF)); }
route_port() { echo $((16220 + $1 + OFF)); }
REDIS=$((16379 + OFF)); REPLICA=$((16380 + OFF))
sentinel_port() { echo $((26378 + $1 + OFF)); }
shield_port() { echo $((14000 + $1 + OFF)); }
brain_port() { echo $((19090 + $1 + OFF)); }

secret() { [[ -s "$1" ]] || (umask 077; printf 'arq%s' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$1"); }

start() { # name, command...: runs in the background, pid in $DIR/name.pid, log in $DIR/name.log
  local name=$1; shift
  "$@" >"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
}

wait_port() { # port: until it accepts (10 s)
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listens on $1 (see $DIR/*.log)" >&2; return 1
}

up() {
  [[ -x $BIN/arqon-shield && -x $BIN/arqon-brain ]] || { echo "build first: make build" >&2; exit 1; }
  for f in jwt_secret nats_shield nats_brain nats_backend; do secret "$DIR/$f"; done
  export ARQON_NATS_SHIELD_PASSWORD=$(cat "$DIR/nats_shield") ARQON_NATS_BRAIN_PASSWORD=$(cat "$DIR/nats_brain")
  export ARQON_NATS_BACKEND_PASSWORD=$(cat "$DIR/nats_backend")
  cp deploy/cluster/nats-node.conf deploy/nats/accounts.conf "$DIR/"
  for i in 1 2 3; do
    ARQON_NATS_NAME=n$i ARQON_NATS_PORT=$(nats_port $i) ARQON_NATS_CLUSTER_PORT=$(route_port $i) \
    ARQON_NATS_STORE_DIR="$DIR/nats-n$i" ARQON_NATS_ROUTE_1=nats://127.0.0.1:$(route_port 1) \
    ARQON_NATS_ROUTE_2=nats://127.0.0.1:$(route_port 2) ARQON_NATS_ROUTE_3=nats://127.0.0.1:$(route_port 3) \
      start nats-n$i nats-server -c "$DIR/nats-node.conf"
  done
  start redis-primary redis-server --port $REDIS --bind 127.0.0.1 --dir "$DIR" --appendonly yes \
    --appendfilename primary.aof --dbfilename primary.rdb
  start redis-replica redis-server --port $REPLICA --bind 127.0.0.1 --dir "$DIR" --appendonly yes \
    --appendfilename replica.aof --dbfilename replica.rdb --replicaof 127.0.0.1 $REDIS
  for i in 1 2 3; do
    printf 'port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor arqon 127.0.0.1 %s 2\nsentinel down-after-milliseconds arqon 2000\nsentinel failover-timeout arqon 10000\n' \
      "$(sentinel_port $i)" "$DIR" "$REDIS" >"$DIR/sentinel-$i.conf"
    start sentinel-$i redis-server "$DIR/sentinel-$i.conf" --sentinel
  done
  for i in 1 2 3; do wait_port "$(nats_port $i)"; done
  wait_port $REDIS
  local servers="[\"nats://127.0.0.1:$(nats_port 1)\", \"nats://127.0.0.1:$(nats_port 2)\", \"nats://127.0.0.1:$(nats_port 3)\"]"
  local sentinels="[\"127.0.0.1:$(sentinel_port 1)\", \"127.0.0.1:$(sentinel_port 2)\", \"127.0.0.1:$(sentinel_port 3)\"]"
  for i in 1 2; do
    cat >"$DIR/brain-$i.toml" <<CONF
[nats]
servers = $servers
stream_replicas = 3
user = "brain"
password_file = "$DIR/nats_brain"
[valkey]
url = "redis://127.0.0.1:$REDIS"
sentinels = $sentinels
master_name = "arqon"
[brain]
metrics_listen = "127.0.0.1:$(brain_port $i)"
CONF
    start brain-$i "$BIN/arqon-brain" --config "$DIR/brain-$i.toml"
    # Shield i is behind NATS node i (its first server), the others its fallbacks.
    local own="nats://127.0.0.1:$(nats_port $i)" rest=()
    for j in 1 2 3; do [[ $j == "$i" ]] || rest+=("\"nats://127.0.0.1:$(nats_port $j)\""); done
    cat >"$DIR/shield-$i.toml" <<CONF
[shield]
listen = "127.0.0.1:$(shield_port $i)"
node_id = "s$i"
[auth]
jwt_secret_file = "$DIR/jwt_secret"
[nats]
servers = ["$own", ${rest[0]}, ${rest[1]}]
user = "shield"
password_file = "$DIR/nats_shield"
CONF
    start shield-$i "$BIN/arqon-shield" --config "$DIR/shield-$i.toml"
  done
  for i in 1 2; do wait_port "$(shield_port $i)"; done
  echo "cluster up in $DIR:"
  for i in 1 2; do echo "  shield s$i  ws://127.0.0.1:$(shield_port $i)/ws   (demo page: http://127.0.0.1:$(shield_port $i)/)"; done
  echo "  tokens:   $BIN/arq auth gen --tenant T --sub U --secret \"\$(cat $DIR/jwt_secret)\""
  echo "  stop:     deploy/cluster/local.sh down"
}

down() {
  for f in "$DIR"/*.pid; do
    [[ -e $f ]] || continue
    kill -TERM "$(cat "$f")" 2>/dev/null || true
  done
  sleep 1
  for f in "$DIR"/*.pid; do
    [[ -e $f ]] || continue
    kill -KILL "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  echo "cluster stopped (data kept in $DIR)"
}

status() {
  for f in "$DIR"/*.pid; do
    [[ -e $f ]] || continue
    local name; name=$(basename "$f" .pid)
    if kill -0 "$(cat "$f")" 2>/dev/null; then echo "  $name: running"; else echo "  $name: stopped"; fi
  done
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: deploy/cluster/local.sh up|down|status" >&2; exit 2 ;;
esac
