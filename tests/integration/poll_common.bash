# poll_common.bash: helpers of the poll_*.sh tests (sourced after lib.sh).
# Starts tests/poll/feed_server.py on a free loopback port over a copy of
# tests/poll/feeds in $PB_TMP/feeds, and stops it when the test exits.

# poll_setup NAME: the common start of a poll test: B, PB_BIN, PB_TMP, the
# feed server (poll_start_server) and PFX, a topic prefix unique to the run
# made from NAME. Call it plainly, not in $(...).
poll_setup() {
        B=$(pb_bootstrap)
        PB_BIN=$(pb_bin)
        pb_tmpdir
        poll_start_server
        PFX=$(pb_topic_name "$1")-
}

poll_start_server() {
        FEEDS=$PB_TMP/feeds
        mkdir -p "$FEEDS"
        cp -r "$PB_SOURCE_DIR/tests/poll/feeds/." "$FEEDS/"
        python3 "$PB_SOURCE_DIR/tests/poll/feed_server.py" "$FEEDS" "$PB_TMP/port" &
        SERVER_PID=$!
        # shellcheck disable=SC2064
        trap "kill $SERVER_PID 2>/dev/null || true; rm -rf '$PB_TMP'" EXIT
        pb_wait_for 20 test -s "$PB_TMP/port"
        PORT=$(cat "$PB_TMP/port")
        BASE=http://127.0.0.1:$PORT
}

# poll_consume TYPE: every event of TYPE under $PFX, as JSON lines
poll_consume() {
        timeout 60 "$PB_BIN" consume -b "$B" -p "$PFX" -t "$1" --from-beginning --meta
}

# poll_count TYPE: number of events
poll_count() { poll_consume "$1" | wc -l; }

# poll_requests: the server's request log
poll_requests() { cat "$FEEDS/requests.log" 2>/dev/null || true; }

expect_eq() { # WHAT GOT WANT
        [[ "$2" == "$3" ]] || pb_fail "$1: got '$2', want '$3'"
        pb_log "ok: $1 = $3"
}
