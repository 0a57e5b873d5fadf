#!/usr/bin/env bash
# Integration: Kafka's own Java console producer, given keys, puts each record on the partition
# `quire partition` computes — the placement every quire producer uses (murmur2_random).
set -euo pipefail
QUIRE_BIN=$1
: "${QUIRE_KAFKA_BROKERS:?run through ./ops/test}" "${QUIRE_KAFKA_LIBS:?}" "${QUIRE_ROOT:?}"
topic="quire-it.javapart-$$-$RANDOM"
java_tool() {
    java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j2.configurationFile="$QUIRE_ROOT/ops/kafka/log4j2-tools.yaml" -cp "$QUIRE_KAFKA_LIBS/*" "$@"
}
java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$QUIRE_KAFKA_BROKERS" --create \
    --topic "$topic" --partitions 12 --replication-factor 1 >/dev/null
keys=()
for i in $(seq 1 200); do keys+=("doc-$i-$((RANDOM * i))"); done
keys+=("a" "ab" "abc" "abcd" "é-ünïcödé" "x.y_z~-1")
for k in "${keys[@]}"; do printf '%s\t%s\n' "$k" "v-$k"; done |
    java_tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$QUIRE_KAFKA_BROKERS" \
        --topic "$topic" --property parse.key=true --property 'key.separator=	' >/dev/null
got=$(kcat -b "$QUIRE_KAFKA_BROKERS" -C -t "$topic" -e -q -f '%k %p\n' | sort)
want=$("$QUIRE_BIN" partition --partitions 12 "${keys[@]}" | sort)
n=$(wc -l <<<"$got")
[ "$n" -eq "${#keys[@]}" ] || { echo "expected ${#keys[@]} records, read $n"; exit 1; }
if [ "$got" != "$want" ]; then
    echo "partition mismatch between Kafka's Java producer and quire:"
    diff <(echo "$want") <(echo "$got") | head -20
    exit 1
fi
distinct=$(awk '{print $NF}' <<<"$got" | sort -u | wc -l)
[ "$distinct" -eq 12 ] || { echo "200 keys should cover all 12 partitions, covered $distinct"; exit 1; }
echo "ok: ${#keys[@]} keys placed identically by Kafka's Java producer and quire over $distinct partitions"
