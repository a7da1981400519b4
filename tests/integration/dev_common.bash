# dev_common.bash: helpers of the dev_*.sh tests (sourced after lib.sh).
# They run `partnerbus dev` itself: with its own Apache Kafka (the jars the
# kafka fixture fetched) under a directory of the test, or with --mock.
#
#   dev_setup                 WORK (a fresh directory, removed at exit), DEVDIR=$WORK/var
#   dev_start OUT ERR ARGS... start dev in the background (devpid), wait until it runs
#   dev_stop                  SIGINT; dev and every child gone within 90 s, exit 0
#   children_of PID           the pids of PID's children, one per line

# the jars dev runs Kafka from: those of the test harness
PARTNERBUS_KAFKA_LIBS=${PB_KAFKA_CACHE:-${HOME:-/tmp}/.cache/partnerbus/kafka-3.9.1}/libs
export PARTNERBUS_KAFKA_LIBS

devpid=
dev_kids=()

children_of() {
        local p
        for p in /proc/[0-9]*; do
                [[ $(awk '/^PPid:/{print $2}' "$p/status" 2>/dev/null) == "$1" ]] && echo "${p#/proc/}"
        done
        return 0
}

# every process whose command line names DIR (dev's Kafka names its config)
procs_of_dir() {
        local p cmd
        for p in /proc/[0-9]*; do
                cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
                [[ $cmd == *"$1/"* && ${p#/proc/} != "$$" ]] && echo "${p#/proc/}"
        done
        return 0
}

dev_cleanup() {
        # anything left is this test's failure, but must not outlive it
        if [[ -n $devpid ]]; then
                dev_kids+=($(children_of "$devpid"))
                kill -KILL "$devpid" 2>/dev/null || true
        fi
        if [[ ${#dev_kids[@]} -gt 0 ]]; then
                kill -KILL "${dev_kids[@]}" 2>/dev/null || true
        fi
        local left
        left=$(procs_of_dir "$WORK" | tr '\n' ' ')
        [[ -n $left ]] && kill -KILL $left 2>/dev/null
        [[ -n ${PB_KEEP_TMP:-} ]] || rm -rf "$WORK"
}

dev_setup() {
        pb_require_cmd curl python3 java
        [[ -d $PARTNERBUS_KAFKA_LIBS ]] || pb_fail "no Kafka jars in $PARTNERBUS_KAFKA_LIBS (tests/kafka/harness.sh fetch)"
        PB_BIN=$(pb_bin)
        WORK=$(mktemp -d "${TMPDIR:-/tmp}/pbdev.XXXXXX")
        DEVDIR=$WORK/var
        trap dev_cleanup EXIT
        cd "$WORK"
}

# dev_start OUT ERR ARGS...: start dev (stdout to OUT, stderr to ERR) and
# wait up to 180 s until it says it runs (Kafka formats and starts first)
dev_start() {
        local out=$1 err=$2 i
        shift 2
        : >"$err"
        "$PB_BIN" dev --listen 127.0.0.1:0 --dir "$DEVDIR" "$@" >"$out" 2>"$err" &
        devpid=$!
        for i in $(seq 1 1800); do
                grep -q 'partnerbus dev is running' "$err" && break
                kill -0 "$devpid" 2>/dev/null || { cat "$err" >&2; pb_fail "dev exited while starting"; }
                sleep 0.1
        done
        grep -q 'partnerbus dev is running' "$err" || { cat "$err" >&2; pb_fail "dev did not start in 180 s"; }
        mapfile -t dev_kids < <(children_of "$devpid")
        B=$(cat "$DEVDIR/bootstrap")
        GW=http://127.0.0.1:$(cat "$DEVDIR/gateway.port")
}

# dev_stop: Ctrl-C; dev ends with status 0 within 90 s, and so does every
# process it started (Kafka's JVM too)
dev_stop() {
        local rc=0 i
        kill -INT "$devpid"
        for i in $(seq 1 900); do kill -0 "$devpid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$devpid" 2>/dev/null && pb_fail "dev did not stop within 90 s of SIGINT"
        wait "$devpid" || rc=$?
        devpid=
        [[ $rc -eq 0 ]] || pb_fail "dev exited $rc after SIGINT"
        for i in $(seq 1 100); do
                [[ -z $(procs_of_dir "$DEVDIR") ]] && break
                sleep 0.1
        done
        [[ -z $(procs_of_dir "$DEVDIR") ]] || { ps -o pid,args -p "$(procs_of_dir "$DEVDIR" | tr '\n' ',' | sed 's/,$//')" >&2; pb_fail "processes of dev still running"; }
        dev_kids=()
}

# console_dev_start SHOTS_NAME: for the console's browser tests: a clean
# screenshot folder under the build dir ($SHOTS), axe-core from
# tests/browser ($AXE), the Python with selenium ($PY), `partnerbus dev`
# started (out.txt, err.txt), its
# admin's URL ($ADMIN) and operator token ($OP) once the admin answers,
# and auth TOKEN for curl's -H
console_dev_start() {
        PY=$(pb_python_venv)
        SHOTS=${PB_BINARY_DIR:-$PB_SOURCE_DIR/build}/$1
        rm -rf "$SHOTS"
        mkdir -p "$SHOTS"
        AXE=$PB_SOURCE_DIR/tests/browser/node_modules/axe-core/axe.min.js
        if [[ ! -f $AXE ]]; then
                (cd "$PB_SOURCE_DIR/tests/browser" && npm ci --prefer-offline --no-audit --no-fund >&2) ||
                        pb_fail "npm ci in tests/browser failed (axe-core)"
        fi
        dev_start out.txt err.txt
        ADMIN=$(awk '$1 == "admin" {print $2; exit}' err.txt)
        ADMIN=${ADMIN%/v1/admin}
        [[ $ADMIN == http://* ]] || { cat err.txt >&2; pb_fail "no admin URL in dev's banner"; }
        OP=$(head -1 "$DEVDIR/operator-token")
        # dev's admin may still be reading its topics (503) just after the banner
        pb_wait_for 60 console_admin_ready || pb_fail "dev's admin did not become ready"
}
auth() { printf 'Authorization: Bearer %s' "$1"; }

# console_admin_start TOKEN_FILE: the browser's `partnerbus admin` beside
# dev's (admin is stateless: same topics), forwarding publishing to dev's
# gateway, as dev's admin has none: at $CONSOLE (pid $admin2, log
# $WORK/admin2.log), once it has read the topics and knows the token in
# TOKEN_FILE. console_admin_stop TOKEN_FILE stops it after checking that the
# token is in none of the logs.
console_admin_start() {
        "$PB_BIN" admin serve --brokers "$B" --listen 127.0.0.1:0 --port-file "$WORK/admin2.port" \
                --operator-token-file "$DEVDIR/operator-token" --insecure-http \
                --allow-http-endpoints --allow-private-endpoints --verify-endpoints=false \
                --gateway-url "$GW" 2>"$WORK/admin2.log" &
        admin2=$!
        dev_kids+=("$admin2")
        pb_wait_for 60 test -s "$WORK/admin2.port" ||
                { cat "$WORK/admin2.log" >&2; pb_fail "the console's admin did not start"; }
        CONSOLE=http://127.0.0.1:$(cat "$WORK/admin2.port")
        pb_wait_for 60 console_knows_token "$1" ||
                { cat "$WORK/admin2.log" >&2; pb_fail "the console's admin does not know the token"; }
}
console_knows_token() { curl -fsS -o /dev/null "$CONSOLE/v1/admin/whoami" -H "$(auth "$(cat "$1")")"; }
# console_browser_test NAME OPTION...: tests/browser/NAME.py in Chromium
# against the console at $CONSOLE, screenshots in $SHOTS
console_browser_test() {
        local name=$1
        shift
        "$PY" "$PB_SOURCE_DIR/tests/browser/$name.py" --admin "$CONSOLE" --axe "$AXE" --shots "$SHOTS" "$@" ||
                pb_fail "the browser test failed (screenshots in $SHOTS)"
}
# console_events TOPIC FIELD VALUE: the events in TOPIC whose FIELD is VALUE,
# oldest first, one JSON object a line
console_events() {
        "$PB_BIN" consume --brokers "$B" --schemas "$PB_SOURCE_DIR/schemas" --topics "$1" \
                --from-beginning | jq -c --arg v "$3" "select(.$2 == \$v)"
}
console_admin_stop() {
        local f
        for f in "$WORK/admin2.log" "$DEVDIR"/logs/* err.txt; do
                [[ -f $f ]] || continue
                grep -qF "$(cat "$1")" "$f" && pb_fail "the token is in $f"
        done
        kill "$admin2"
        wait "$admin2" 2>/dev/null || true
}
console_admin_ready() { curl -fsS -o /dev/null "$ADMIN/v1/admin/whoami" -H "$(auth "$OP")" 2>/dev/null; }
