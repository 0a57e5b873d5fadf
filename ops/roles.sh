# ops/roles.sh — starting quire's roles for a stack (sourced by ops/run and ops/test helpers).
# Each role that the binary has (see `quire --help`) is started in the background with its log in
# <stack>/logs/<role>.log and its pid in <stack>/pids/role-<role>.pid. Two gateways, as DESIGN §9.

has_role() { "$QUIRE_BIN" --help 2>/dev/null | grep "^  $1 " >/dev/null; } # no -q: SIGPIPE under pipefail

start_role() { # start_role NAME ARGS...
    local name=$1; shift
    mkdir -p "$LOG_DIR" "$PID_DIR"
    (
        set -a; source "$STACK_DIR/stack.env"; set +a
        exec "$QUIRE_BIN" "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null
    ) &
    echo $! > "$PID_DIR/role-$name.pid"
}

start_roles() {
    local started=()
    local i=0 p
    if has_role projector; then
        start_role projector projector --admin-listen "127.0.0.1:$((ADMIN_PORT_BASE + 1))"
        started+=(projector)
    fi
    if has_role compactor; then
        start_role compactor compactor --admin-listen "127.0.0.1:$((ADMIN_PORT_BASE + 2))"
        started+=(compactor)
    fi
    # The web app is served by the api at http://localhost:$API_PORT/ and connects to the gateways
    # at ws://localhost:<port>: one host name, so the api's host-only cookies reach the gateways
    # too (cookies ignore ports), which accept them from the app's Origin only.
    local web_gateways="" web_origin="http://localhost:$API_PORT"
    for p in $GATEWAY_PORTS; do web_gateways="${web_gateways:+$web_gateways,}ws://localhost:$p"; done
    if has_role api; then
        # the page logs in and writes with cookies from this Origin only (docs/auth.md)
        start_role api api --listen "127.0.0.1:$API_PORT" --web-root "$QUIRE_ROOT/web/dist" \
            --web-gateways "$web_gateways" --allowed-origins "$web_origin"
        started+=(api)
    fi
    if has_role gateway; then
        for p in $GATEWAY_PORTS; do
            i=$((i + 1))
            start_role "gateway$i" gateway --listen "127.0.0.1:$p" \
                --admin-listen "127.0.0.1:$((ADMIN_PORT_BASE + 10 + i))" --gateway-id "gw$i" \
                --allowed-origins "$web_origin"
            started+=("gateway$i")
        done
    fi
    ROLES_STARTED="${started[*]}"
}

# create_demo_user — the demo login ./ops/run prints: user "demo", a random password made once per
# stack (kept in <stack>/demo-password, mode 600), written to <stack>/demo-login.
create_demo_user() {
    # (no grep -q: under pipefail its early exit fails the pipeline with SIGPIPE)
    "$QUIRE_BIN" --help 2>/dev/null | grep "^  user add " >/dev/null || return 0
    local pwfile="$STACK_DIR/demo-password" pw rc=0
    if [ ! -s "$pwfile" ]; then
        (umask 077; head -c 12 /dev/urandom | base64 | tr -d '/+=\n' > "$pwfile")
    fi
    pw=$(cat "$pwfile")
    (
        set -a; source "$STACK_DIR/stack.env"; set +a
        printf '%s\n' "$pw" | "$QUIRE_BIN" user add demo --log-level warn >/dev/null 2>&1 || rc=$?
        # it exists from an earlier run (made with this password); any other failure is real
        [ "$rc" = 0 ] || [ "$rc" = 3 ] || exit "$rc"
    ) || { say "could not create the demo user"; return 1; }
    echo "user demo, password $pw" > "$STACK_DIR/demo-login"
}

# wait_roles_ready SECONDS — every started role answers /readyz (or its port) in time.
wait_roles_ready() {
    local secs=$1 f name
    for f in "$PID_DIR"/role-*.pid; do
        [ -f "$f" ] || continue
        name=$(basename "$f" .pid); name=${name#role-}
        pid_alive "$f" || die "$name exited at start (see $LOG_DIR/$name.log): $(tail -3 "$LOG_DIR/$name.log")"
    done
}
