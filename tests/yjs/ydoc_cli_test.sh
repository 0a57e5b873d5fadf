#!/usr/bin/env bash
# ydoc_cli_test.sh <quire> — `quire yjs content` end to end on hand-made updates: the content
# JSON, one root in each format, stdin, --state round trip, pending reported, refusals and usage
# errors with their exit statuses. Prints "N passed, M failed".
set -uo pipefail
Q=$1
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
        cat "$T/out" "$T/err"
    fi
}
# client 5 writes "abc" into root t; client 9 appends "XY" after 5:2; a delete of 5:1
printf '\x01\x01\x05\x00\x04\x01\x01t\x03abc\x00' > "$T/abc"
printf '\x01\x01\x09\x00\x84\x05\x02\x02XY\x00' > "$T/xy"
printf '\x00\x01\x05\x01\x01\x01' > "$T/del"
check "content of one update" sh -c "'$Q' yjs content '$T/abc' | grep -qx '{\"t\":\"abc\"}'"
check "three updates in order" sh -c "'$Q' yjs content '$T/abc' '$T/xy' '$T/del' | grep -qx '{\"t\":\"acXY\"}'"
check "out of order: held, then integrated" sh -c "'$Q' yjs content '$T/xy' '$T/del' '$T/abc' | grep -qx '{\"t\":\"acXY\"}'"
check "one root as a delta" sh -c "'$Q' yjs content --root t --format delta '$T/abc' | grep -qx '\\[{\"insert\":\"abc\"}\\]'"
check "one root as a raw string" sh -c "'$Q' yjs content --root t --format string '$T/abc' | grep -qx 'abc'"
check "one root as an array" sh -c "'$Q' yjs content --root t --type array '$T/abc' | grep -qx '\\[\"a\",\"b\",\"c\"\\]'"
check "from stdin" sh -c "'$Q' yjs content - < '$T/abc' | grep -qx '{\"t\":\"abc\"}'"
check "--state writes a state that renders the same" sh -c \
    "'$Q' yjs content --state '$T/s' '$T/abc' '$T/xy' > /dev/null && '$Q' yjs content '$T/s' | grep -qx '{\"t\":\"abcXY\"}'"
check "pending structs are reported" sh -c "'$Q' yjs content '$T/xy' 2>&1 >/dev/null | grep -q 'missing client 5 from clock 0'"
check "--stats on stderr" sh -c "'$Q' yjs content --stats '$T/abc' 2>&1 >/dev/null | grep -q '^clients 1, structs 1'"
check "a truncated update is refused with exit 1" sh -c "head -c 6 '$T/abc' > '$T/bad'; '$Q' yjs content '$T/bad' 2> '$T/e'; [ \$? -eq 1 ] && grep -q refused '$T/e'"
check "an unknown root exits 1" sh -c "'$Q' yjs content --root nope '$T/abc' 2> /dev/null; [ \$? -eq 1 ]"
check "an unknown type exits 2" sh -c "'$Q' yjs content --root t --type tree '$T/abc' 2> /dev/null; [ \$? -eq 2 ]"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
