#!/usr/bin/env bash
# bench/compactor/run.sh — the compactor's figures (issue 8), printed; never fails on time.
#
#   bench/compactor/run.sh [runs] [ndocs] [edits-per-doc]       (defaults 3, 10000, 2000)
#
# Needs the stack's environment (set -a; . .quire/stack.env; set +a), a release build
# (QUIRE_BIN, bench_compactor beside it in build/…/bench/compactor/) and QUIRE_BENCH_PG: a
# database migrated with `quire migrate` that the benchmark may EMPTY (replay and bootstrap
# truncate the read model). Its topics get their own prefix (bench<time>), so the stack's topics
# are left alone.
#
# Figures:
#   1. cold load of automerge-paper (259,778 events, one document) as the first client of a fresh
#      gateway loads it (readmodel_load + ydoc + SyncStep2; bench_compactor load), and through a
#      snapshot;
#   2. bootstrap of ndocs documents (each the first edits-per-doc updates of a trace, one update
#      per edit, interleaved) from snapshots vs. a full replay (medians of `runs`);
#   3. write amplification at the default policy (snapshot bytes / event bytes) of that set and of
#      automerge-paper.
set -euo pipefail
RUNS=${1:-3}
NDOCS=${2:-10000}
PER=${3:-2000}
: "${QUIRE_BIN:?}" "${QUIRE_KAFKA_BROKERS:?}" "${QUIRE_BENCH_PG:?}"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BENCH=$(dirname "$QUIRE_BIN")/../bench/compactor/bench_compactor
TRACES=${QUIRE_TRACES:-$ROOT/../shared/data/editing-traces}
WORK=${TMPDIR:-/tmp}/quire-bench-compactor
mkdir -p "$WORK"
export QUIRE_PG=$QUIRE_BENCH_PG QUIRE_LOG_LEVEL=warn
# QUIRE_BENCH_PREFIX reuses the topics (and documents) of an earlier run: nothing is produced
PREFIX=${QUIRE_BENCH_PREFIX:-bench$(date +%s)}
REUSE=${QUIRE_BENCH_PREFIX:+1}
REPLAYS=${QUIRE_BENCH_REPLAYS:-$RUNS}
GROUP=$PREFIX-compactor-$(date +%s)
say() { printf '\n== %s\n' "$*"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
secs() { local s e; s=$(date +%s.%N); "$@" >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log"; exit 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }

say "updates of the traces"
FILES=()
for t in "$TRACES"/*.json.gz; do
  b=$(basename "$t" .json.gz)
  [ -s "$WORK/$b.updates" ] || node "$ROOT/bench/projector/trace_updates.mjs" "$t" "$WORK/$b.updates" >/dev/null 2>&1 || { rm -f "$WORK/$b.updates"; echo "skipped $b (not a linear trace)"; continue; }
  FILES+=("$WORK/$b.updates")
done
printf '%s\n' "${FILES[@]}"
"$BENCH" topics "$PREFIX" 12
OPTS=(--topic-prefix "$PREFIX")
# the snapshot history is not keyed by topic: snapshots of an earlier run's topic would cover
# this run's documents of the same names
psql "$QUIRE_PG" -XAtq -c "TRUNCATE doc_snapshots"

say "1. cold load of automerge-paper"
[ -n "$REUSE" ] || "$BENCH" produce "$PREFIX" automerge-paper "$WORK/automerge-paper.updates"
"$QUIRE_BIN" replay --yes "${OPTS[@]}" >/dev/null 2>&1
"$QUIRE_BIN" compactor --until-idle --group "$GROUP" "${OPTS[@]}" 2>&1 | grep -o 'events=.*' || true
"$BENCH" load automerge-paper 15 "$PREFIX.doc-updates"
psql "$QUIRE_PG" -XAtq -c "SELECT 'AMPLIFICATION automerge-paper (defaults): ' || round(s::numeric / e, 3) || ' = ' || s || ' snapshot bytes / ' || e || ' event bytes, ' || n || ' snapshots' FROM (SELECT (SELECT sum(octet_length(ydoc)) FROM doc_snapshots WHERE doc_id = 'automerge-paper') s, (SELECT sum(size) FROM doc_events WHERE doc_id = 'automerge-paper') e, (SELECT count(*) FROM doc_snapshots WHERE doc_id = 'automerge-paper') n) x"

say "2. $NDOCS documents × $PER edits"
[ -n "$REUSE" ] || "$BENCH" produce-docs "$PREFIX" "$NDOCS" "$PER" "${FILES[@]}"
# QUIRE_BENCH_REPLAY_SECONDS: replay times measured before on the same topic (with REPLAYS=0)
read -r -a REPLAY <<<"${QUIRE_BENCH_REPLAY_SECONDS:-}"
for r in $(seq "$REPLAYS"); do
  t=$(secs "$QUIRE_BIN" replay --yes "${OPTS[@]}")
  echo "replay run $r: ${t}s ($(grep -o '[0-9]* events applied' "$WORK/last.log"))"
  REPLAY+=("$t")
done
# at the defaults: the documents were written long ago, so the quiet periods have passed
"$QUIRE_BIN" compactor --until-idle --group "$GROUP" "${OPTS[@]}" 2>&1 | grep -o 'events=.*' || true
psql "$QUIRE_PG" -XAtq -c "SELECT 'AMPLIFICATION $NDOCS documents (defaults): ' || round(s::numeric / e, 3) || ' = ' || s || ' snapshot bytes / ' || e || ' event bytes, ' || n || ' snapshots' FROM (SELECT (SELECT sum(octet_length(ydoc)) FROM doc_snapshots WHERE doc_id LIKE 'bench-%') s, (SELECT sum(size) FROM doc_events WHERE doc_id LIKE 'bench-%') e, (SELECT count(*) FROM doc_snapshots WHERE doc_id LIKE 'bench-%') n) x"
BOOT=()
for r in $(seq "$RUNS"); do
  t=$(secs "$QUIRE_BIN" bootstrap --yes --group "$GROUP" "${OPTS[@]}")
  echo "bootstrap run $r: ${t}s ($(grep -o 'bootstrap done.*' "$WORK/last.log"))"
  BOOT+=("$t")
done
if [ "${QUIRE_BENCH_VERIFY:-0}" = 1 ]; then "$QUIRE_BIN" verify "${OPTS[@]}" | tail -1; fi
mr=$(printf '%s\n' "${REPLAY[@]}" | median)
mb=$(printf '%s\n' "${BOOT[@]}" | median)
echo
echo "BOOTSTRAP $NDOCS documents × $PER edits: full replay median ${mr}s ($REPLAYS runs), bootstrap from snapshots median ${mb}s ($RUNS runs): $(echo "scale=1; $mr / $mb" | bc)× faster"
