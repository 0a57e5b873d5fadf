#!/usr/bin/env bash
# bench/gateway/run.sh [runs] — the gateway's figures (issue "The gateway"), printed:
#   latency gateway A → gateway B at 200 edits/s (and the y-websocket reference server, one
#   in-memory node, in the same run); fan-out to 1,000 observers at 10 edits/s with gateway CPU
#   per delivered update; memory per idle connection (10,000 sockets); the CPU 10,000 idle
#   sockets add to a live document (libev/epoll, then poll() for comparison); 50 clients joining
#   a 6.8 MB document on a cold gateway.
# Needs a running stack: `./ops/run --detach` (dev) or QUIRE_STACK_ENV=.quire/test/stack.env.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-3}
env_file=${QUIRE_STACK_ENV:-$root/.quire/stack.env}
[ -f "$env_file" ] || { echo "no stack: run ./ops/run --detach first (or set QUIRE_STACK_ENV)"; exit 2; }
set -a; . "$env_file"; set +a
cmake --preset release -B "$root/build/release" >/dev/null
cmake --build "$root/build/release" -j2 --target quire bench_gateway >/dev/null
Q="$root/build/release/cmd/quire"
B="$root/build/release/bench/gateway/bench_gateway"
export BENCH_TOKEN=$("$Q" token issue --user bench --ttl 2h)
export BENCH_DOC_PREFIX="b$(date +%s)"
tmp="$root/tests/artifacts/bench-gateway"; rm -rf "$tmp"; mkdir -p "$tmp"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
start_gw() { # name port [gateway options]
    "$Q" gateway --listen "127.0.0.1:$2" --admin-listen 127.0.0.1:0 --gateway-id "$1" \
        --rate 100000 --log-level warn "${@:3}" >"$tmp/$1.log" 2>&1 &
    pids+=($!)
    LAST_PID=$!
    for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$2) 2>/dev/null && break; sleep 0.1; done
}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
"$Q" projector --admin-listen 127.0.0.1:0 --log-level warn >"$tmp/projector.log" 2>&1 &
pids+=($!)
pa=$(free_port); pb=$(free_port)
start_gw bench-a "$pa"; pidA=$LAST_PID
start_gw bench-b "$pb"; pidB=$LAST_PID
py=$(free_port)
HOST=127.0.0.1 PORT=$py node "$root/tests/js/node_modules/y-websocket/bin/server.cjs" >"$tmp/yws.log" 2>&1 &
pids+=($!)
sleep 1

echo "== latency, one writer at 200 edits/s (median of $runs runs; each 10 s after 1 s warm-up)"
for i in $(seq 1 "$runs"); do
    echo "-- run $i"
    "$B" latency "$pa" "$pb" 200 10 | sed 's/^/   quire (two gateways, Kafka acks=all): /'
    "$B" latency "$py" "$py" 200 10 | sed 's/^/   y-websocket server (one node, memory): /'
done
echo "== fan-out"
"$B" fanout "$pa" "$pb" 1000 10 10 "$pidA" "$pidB"
echo "== idle connections"
pc=$(free_port); start_gw bench-c "$pc"; pidC=$LAST_PID
"$B" idle "$pc" 10000 "$pidC"
echo "== 10,000 idle sockets + one writer at 200 edits/s and one observer on the same gateway"
for loop in epoll poll; do
    pe=$(free_port)
    start_gw "bench-busy-$loop" "$pe" --max-conns-per-user 20000 --epoll="$([ $loop = epoll ] && echo true || echo false)"
    echo "-- event loop: $loop"
    "$B" busy "$pe" 10000 200 10 "$LAST_PID"
    kill "$LAST_PID"
done
echo "== 50 clients join a 6.8 MB document on a cold gateway"
doc="$BENCH_DOC_PREFIX-big"
"$B" fill "$pa" "$doc" 7
sleep 5 # the projector indexes it
pd=$(free_port); start_gw bench-d "$pd"; pidD=$LAST_PID
"$B" join "$pd" 50 "$pidD" "$doc"
