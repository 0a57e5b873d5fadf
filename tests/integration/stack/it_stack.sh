#!/usr/bin/env bash
# Integration: the stack ./ops/test started is what DESIGN §3/§9 promise — four topics with their
# partition counts and configs (read back with kcat and Kafka's own tools), Kafka's consumer-group
# tool runs, stack.env names every endpoint, and every role's admin endpoints answer.
set -euo pipefail
QUIRE_BIN=$1
: "${QUIRE_KAFKA_BROKERS:?run through ./ops/test}" "${QUIRE_STACK_DIR:?}" "${QUIRE_KAFKA_LIBS:?}"
p=${QUIRE_TOPIC_PREFIX:-quire}
fail() { echo "FAIL: $*"; exit 1; }
java_tool() {
    java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j2.configurationFile="$QUIRE_ROOT/ops/kafka/log4j2-tools.yaml" -cp "$QUIRE_KAFKA_LIBS/*" "$@"
}

md=$(kcat -b "$QUIRE_KAFKA_BROKERS" -L -J)
count() { jq -r --arg t "$1" '.topics[] | select(.topic==$t) | .partitions | length' <<<"$md"; }
[ "$(count "$p.doc-updates")" = "${QUIRE_PARTITIONS:-12}" ] || fail "$p.doc-updates partitions"
[ "$(count "$p.doc-snapshots")" = "${QUIRE_PARTITIONS:-12}" ] || fail "$p.doc-snapshots partitions"
[ "$(count "$p.presence")" = "${QUIRE_PARTITIONS:-12}" ] || fail "$p.presence partitions"
[ "$(count "$p.control")" = "1" ] || fail "$p.control partitions"

desc=$(java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$QUIRE_KAFKA_BROKERS" --describe --topic "$p.doc-updates")
grep -q 'retention.ms=-1' <<<"$desc" || fail "doc-updates retention is not infinite: $desc"
grep -q 'message.timestamp.type=LogAppendTime' <<<"$desc" || fail "doc-updates is not LogAppendTime"
desc=$(java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$QUIRE_KAFKA_BROKERS" --describe --topic "$p.doc-snapshots")
grep -q 'cleanup.policy=compact' <<<"$desc" || fail "doc-snapshots is not compacted"
desc=$(java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$QUIRE_KAFKA_BROKERS" --describe --topic "$p.presence")
grep -q 'retention.ms=120000' <<<"$desc" || fail "presence retention is not short"

java_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$QUIRE_KAFKA_BROKERS" --list >/dev/null ||
    fail "kafka-consumer-groups could not list groups"

env_file="$QUIRE_STACK_DIR/stack.env"
for v in QUIRE_BIN QUIRE_KAFKA_BROKERS QUIRE_PG QUIRE_API_URL QUIRE_GATEWAY_URLS; do
    grep -q "^$v=." "$env_file" || fail "stack.env lacks $v"
done
( set -a; source "$env_file"; [ -x "$QUIRE_BIN" ] ) || fail "QUIRE_BIN in stack.env is not executable"
echo "ok: topics, configs, consumer-groups tool and stack.env as specified"
