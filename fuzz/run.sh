#!/usr/bin/env bash
# fuzz/run.sh — one bounded libFuzzer run: builds the fuzz preset (clang, libFuzzer, ASan+UBSan)
# and fuzzes one harness for a number of seconds, seeded from its committed corpus.
#
#   fuzz/run.sh <target> [seconds=60] [extra libFuzzer flags...]
#   fuzz/run.sh fuzz_yjs_merge 300 -jobs=2
#
# New inputs go to build/fuzz/corpus-<target>/ (never into the committed corpus); crashes to
# fuzz/artifacts/ (git-ignored). Copy a minimised crash into the committed corpus as a
# regression seed once it is fixed. The corpus of fuzz_<dir>_<name> is fuzz/<dir>/corpus/<name>
# (or fuzz/<dir>/corpus when the folder has one harness). Exit status: libFuzzer's (0 = nothing
# found).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run.sh <target> [seconds] [libFuzzer flags...]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
rest=${target#fuzz_}
dir=${rest%%_*}
name=${rest#*_}
if [ -d "fuzz/$dir/corpus/$name" ]; then seed="fuzz/$dir/corpus/$name"; else seed="fuzz/$dir/corpus"; fi
[ -d "$seed" ] || { echo "fuzz/run.sh: no corpus for $target (looked in $seed)" >&2; exit 2; }
cmake --preset fuzz > /dev/null
cmake --build build/fuzz --target "$target" -j2
work="build/fuzz/corpus-$target"
mkdir -p "$work" fuzz/artifacts
echo "fuzzing $target for ${seconds}s (seed corpus $seed, new inputs in $work)"
exec "build/fuzz/$(find build/fuzz -name "$target" -type f -perm -u+x -printf '%P\n' | head -1)" \
    -max_total_time="$seconds" -artifact_prefix=fuzz/artifacts/ -print_final_stats=1 "$@" "$work" "$seed"
