#!/usr/bin/env bash
# bench/yjs/run.sh [runs=7] [trace=automerge-paper] — lib/yjs beside yjs on Node, same run, same
# input: builds bench_yjs (release preset), replays the editing trace into one update per edit
# (once, cached in build/bench-data/), runs the yjs side then the C side, prints both and a
# side-by-side Markdown table. Traces are looked up in $QUIRE_TRACES_DIR, default
# ../shared/data/editing-traces beside the repository. Prints figures; never fails on time.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-7}
name=${2:-automerge-paper}
traces=${QUIRE_TRACES_DIR:-$(pwd)/../shared/data/editing-traces}
data=build/bench-data
mkdir -p "$data"
[ -d bench/yjs/node_modules ] || (cd bench/yjs && npm ci --silent)
if [ ! -s "$data/$name.updates" ]; then
    node bench/yjs/trace_updates.mjs "$traces/$name.json.gz" "$data/$name.updates"
fi
cmake --preset release > /dev/null
cmake --build build/release --target bench_yjs -j2 > /dev/null
echo "== yjs $(node -p "require('./bench/yjs/node_modules/yjs/package.json').version") on Node $(node --version)"
node bench/yjs/bench_yjs.mjs "$data/$name.updates" "$runs" --json "$data/yjs.json" --merged "$data/yjs-merged.bin"
echo
echo "== quire lib/yjs (C, release build)"
build/release/bench/yjs/bench_yjs "$data/$name.updates" "$runs" --json "$data/c.json" --compare "$data/yjs-merged.bin"
echo
node bench/yjs/table.mjs "$data/c.json" "$data/yjs.json" "$name"
