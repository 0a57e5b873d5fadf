#!/usr/bin/env bash
# bench/yjs/run_ydoc.sh [runs=7] [trace=automerge-paper] — the integrated document (lib/yjs/ydoc.h)
# beside yjs on Node, same run, same input: builds bench_ydoc (release preset, or the build
# directory in $QUIRE_BUILD_DIR), replays the editing trace into one update per edit (once, cached
# in build/bench-data/ by trace_updates.mjs), runs the yjs side then the C side (which checks its
# final state against yjs's byte for byte), prints both and a side-by-side Markdown table. Traces
# are looked up in $QUIRE_TRACES_DIR, default ../shared/data/editing-traces beside the repository.
# Prints figures; never fails on time.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-7}
name=${2:-automerge-paper}
traces=${QUIRE_TRACES_DIR:-$(pwd)/../shared/data/editing-traces}
build=${QUIRE_BUILD_DIR:-build/release}
data=build/bench-data
mkdir -p "$data"
[ -d bench/yjs/node_modules ] || (cd bench/yjs && npm ci --silent)
if [ ! -s "$data/$name.updates" ]; then
    node bench/yjs/trace_updates.mjs "$traces/$name.json.gz" "$data/$name.updates"
fi
if [ -z "${QUIRE_BUILD_DIR:-}" ]; then
    cmake --preset release > /dev/null
fi
cmake --build "$build" --target bench_ydoc -j2 > /dev/null
echo "== yjs $(node -p "require('./bench/yjs/node_modules/yjs/package.json').version") on Node $(node --version)"
node --expose-gc --single-threaded-gc bench/yjs/bench_ydoc.mjs "$data/$name.updates" "$runs" --json "$data/ydoc-yjs.json" \
    --state "$data/$name.yjs-state" --text "$data/$name.yjs-text"
echo
echo "== quire ydoc (C, release build)"
"$build/bench/yjs/bench_ydoc" "$data/$name.updates" "$runs" --json "$data/ydoc-c.json" \
    --compare "$data/$name.yjs-state" "$data/$name.yjs-text"
echo
node bench/yjs/ydoc_table.mjs "$data/ydoc-c.json" "$data/ydoc-yjs.json" "$name"
