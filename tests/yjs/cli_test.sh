#!/usr/bin/env bash
# cli_test.sh <quire> <fuzz/yjs/corpus> — the `quire yjs` tools end to end on files and stdin:
# exit statuses, outputs that validate, split parts that merge back to the same state vector,
# refusals with a message. Prints "N passed, M failed".
set -uo pipefail
Q=$1
C=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
check() { # check <name> <command...>
    local name=$1
    shift
    if "$@" > "$T/out" 2> "$T/err"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $name"
        cat "$T/err"
    fi
}
a=$C/decode/valid-0
b=$C/decode/valid-1
long=$C/decode/valid-long-string
check "validate two updates" "$Q" yjs validate "$a" "$b"
check "merge" "$Q" yjs merge "$a" "$b" --out "$T/m"
check "merge output validates" "$Q" yjs validate "$T/m"
check "state vector" "$Q" yjs sv "$T/m" --out "$T/sv"
check "diff against own state vector" "$Q" yjs diff "$T/m" "$T/sv" --out "$T/d"
check "inspect --json says ok" sh -c "'$Q' yjs inspect --json '$T/m' | grep -q '\"ok\":true'"
check "inspect --structs from stdin" sh -c "'$Q' yjs inspect --structs - < '$T/m' | grep -q '^structs:'"
check "split a long string at 100 bytes" "$Q" yjs split --cap 100 --out "$T/p" "$long"
check "every part within the cap" sh -c "for f in '$T'/p.*; do [ \$(wc -c < \"\$f\") -le 100 ] || exit 1; done"
check "parts merge back to the same state vector" sh -c \
    "'$Q' yjs merge '$T'/p.* --out '$T/m2' && '$Q' yjs sv '$T/m2' --out '$T/sv2' && '$Q' yjs sv '$long' --out '$T/sv1' && cmp '$T/sv1' '$T/sv2'"
check "a self-referencing origin is refused with exit 1 and a message" sh -c \
    "'$Q' yjs validate '$C/decode/hostile-self-origin' 2> '$T/e'; [ \$? -eq 1 ] && grep -q 'refused' '$T/e'"
check "an empty file is refused" sh -c "'$Q' yjs validate '$C/decode/hostile-zero-length' 2> /dev/null; [ \$? -eq 1 ]"
check "usage errors exit 2" sh -c "'$Q' yjs diff '$a' 2> /dev/null; [ \$? -eq 2 ]"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
