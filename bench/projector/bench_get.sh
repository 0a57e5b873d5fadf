#!/usr/bin/env bash
# bench_get.sh — GET /v1/docs/{id} (JSON) and GET /v1/docs/{id}/state (binary) of a ~100 KB
# document on one api process, measured with wrk (2 threads, 32 connections, 10 s, 3 runs each;
# the median is printed). Needs a running stack (stack.env in the environment: QUIRE_BIN,
# QUIRE_PG, QUIRE_KAFKA_BROKERS, QUIRE_JWT_KEYS) and a release build in QUIRE_BIN.
#   set -a; . .quire/stack.env; set +a; QUIRE_BIN=build/release/cmd/quire bench/projector/bench_get.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${QUIRE_BIN:?}" "${QUIRE_PG:?}" "${QUIRE_KAFKA_BROKERS:?}"
kb=${KB:-100}
runs=${RUNS:-3}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
admin=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp -d)
"$QUIRE_BIN" projector --admin-listen "127.0.0.1:$admin" --log-level warn >"$log/projector.log" 2>&1 &
ppid=$!
"$QUIRE_BIN" api --listen "127.0.0.1:$port" --threads "${THREADS:-4}" --log-level warn >"$log/api.log" 2>&1 &
apid=$!
trap 'kill $ppid $apid 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
tok=$("$QUIRE_BIN" token issue --user bench --ttl 1h)
doc="bench-get-$(date +%s)-$$"
version=$(node "$here/make_doc.mjs" "http://127.0.0.1:$port" "$tok" "$doc" "$kb")
url="http://127.0.0.1:$port/v1/docs/$doc"
json_bytes=$(curl -sf -H "Authorization: Bearer $tok" "$url?min_version=$version" | wc -c)
state_bytes=$(curl -sf -H "Authorization: Bearer $tok" "$url/state" | wc -c)
echo "document $doc: version $version, JSON body $json_bytes bytes, state $state_bytes bytes"
measure() { # measure LABEL URL
    local rates=() r
    for _ in $(seq "$runs"); do
        r=$(wrk -t2 -c32 -d10s -H "Authorization: Bearer $tok" "$2" | awk '/Requests\/sec/ {print $2}')
        rates+=("$r")
        echo "  $1 run: $r requests/s"
    done
    printf '%s\n' "${rates[@]}" | sort -n | awk -v l="$1" '{a[NR]=$1} END {print "GET " l ": median " a[int((NR+1)/2)] " requests/s over " NR " runs"}'
}
measure "/v1/docs/{id} (JSON)" "$url"
measure "/v1/docs/{id}/state (binary)" "$url/state"
