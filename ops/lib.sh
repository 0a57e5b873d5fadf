# ops/lib.sh — shared by ops/setup, ops/stack, ops/run, ops/test, ops/stop. Source it; don't run it.
#
# Layout of a stack (one per name: "dev" for ./ops/run, "test" for ./ops/test):
#   .quire/<name>/kafka/      broker data (formatted on first start)
#   .quire/<name>/pg/         PostgreSQL data directory (or under /var/tmp when the project
#                             directory is not reachable by the postgres user, e.g. under /root)
#   .quire/<name>/logs/       process logs
#   .quire/<name>/pids/       pid files of everything the stack started
#   .quire/<name>/stack.env   endpoints (DESIGN §9); .quire/stack.env is the dev stack's copy
# Ports: QUIRE_PORT_BASE (dev 18000, test 28000) + fixed offsets, so stacks run side by side.

set -euo pipefail

QUIRE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUIRE_DOT="$QUIRE_ROOT/.quire"
KAFKA_VERSION_PIN=4.1.1
KAFKA_LIBS="$QUIRE_DOT/kafka-libs"
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

say() { printf '\033[1m[ops]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[ops] error:\033[0m %s\n' "$*" >&2; exit 1; }

# stage NAME CMD... — runs a stage and records how long it took (printed by print_stages).
STAGES=()
stage() {
    local name=$1; shift
    local t0=$SECONDS
    say "── $name"
    "$@"
    STAGES+=("$(printf '%-28s %4ds' "$name" $((SECONDS - t0)))")
}
print_stages() {
    say "stage times:"
    for s in "${STAGES[@]}"; do printf '       %s\n' "$s" >&2; done
}

# stack_vars NAME — sets the variables describing stack NAME.
stack_vars() {
    STACK=$1
    case "$STACK" in
        dev) local default_base=18000 ;;
        test) local default_base=28000 ;;
        *) local default_base=38000 ;;
    esac
    PORT_BASE=${QUIRE_PORT_BASE:-$default_base}
    STACK_DIR=${QUIRE_STACK_DIR:-$QUIRE_DOT/$STACK}
    KAFKA_PORT=$((PORT_BASE + 92))
    KAFKA_CONTROLLER_PORT=$((PORT_BASE + 93))
    PG_PORT=$((PORT_BASE + 54))
    API_PORT=$((PORT_BASE + 80))
    GATEWAY_PORTS="$((PORT_BASE + 81)) $((PORT_BASE + 82))"
    ADMIN_PORT_BASE=$((PORT_BASE + 100))
    TOPIC_PREFIX=${QUIRE_TOPIC_PREFIX:-quire}
    PARTITIONS=${QUIRE_PARTITIONS:-12}
    LOG_DIR="$STACK_DIR/logs"
    PID_DIR="$STACK_DIR/pids"
    KAFKA_DIR="$STACK_DIR/kafka"
    PG_DIR="$STACK_DIR/pg"
    PG_SOCK_DIR="$STACK_DIR/pgsock"
    PG_USER_OS=""
    if [ "$(id -u)" = 0 ]; then
        PG_USER_OS=postgres
        # The postgres user must reach the data directory; /root is closed to it.
        if ! runuser -u postgres -- test -x "$QUIRE_ROOT" 2>/dev/null; then
            local h
            h=$(printf '%s' "$STACK_DIR" | md5sum | cut -c1-8)
            PG_DIR="/var/tmp/quire-$h/pg"
            PG_SOCK_DIR="/var/tmp/quire-$h/pgsock"
        fi
    fi
    PG_URL="postgresql://quire@127.0.0.1:$PG_PORT/quire"
    KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
}

as_pg() {
    if [ -n "$PG_USER_OS" ]; then runuser -u "$PG_USER_OS" -- "$@"; else "$@"; fi
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_for SECONDS DESCRIPTION CMD... — polls CMD every 0.2 s until it succeeds.
wait_for() {
    local secs=$1 what=$2; shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

kafka_java() {
    java -Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j2.configurationFile="$QUIRE_ROOT/ops/kafka/log4j2-tools.yaml" \
        -cp "$KAFKA_LIBS/*" "$@"
}
