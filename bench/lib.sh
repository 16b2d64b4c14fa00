# bench/lib.sh — what the benchmark scripts share: free loopback ports, waiting for a port,
# and the Shield configuration of a benchmark (limits far above the offered load, so that a
# run measures the path, not the limiter). Sourced; $OUT must be set.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# wait_port PORT NAME: the port accepts connections within 10 s, or the script ends.
wait_port() {
  for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.1; done
  echo "$2 did not start; see $OUT/$2.log" >&2
  exit 1
}

# bench_shield_toml PORT NATS_URL SECRET [EXTRA_SHIELD_LINES]: a Shield configuration on stdout.
# BENCH_NATS_EXTRA, when set, adds lines to its [nats] section (e.g. "send_asap = false" to
# compare settings side by side); BENCH_SHIELD_WORKERS sets [shield] workers (0: one per core).
bench_shield_toml() {
  cat <<EOT
[shield]
listen = "127.0.0.1:$1"
node_id = "bench"
workers = ${BENCH_SHIELD_WORKERS:-0}
conn_rate = 1000000.0
conn_burst = 1000000
tenant_rate = 10000000.0
tenant_burst = 10000000
max_connections = 200000
max_connections_per_tenant = 200000
${4:-}
[auth]
jwt_secret = "$3"
[nats]
url = "$2"
${BENCH_NATS_EXTRA:-}
[log]
level = "warn"
EOT
}
