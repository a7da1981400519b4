#!/usr/bin/env bash
# The three next steps partnerbus dev prints work exactly as printed: each
# command of var/NEXT-STEPS.txt (the same text as the banner) runs with
# bash from another directory and succeeds. The curl publishes a new event
# each time (never "duplicate"); the CSV holds the demo's grants, one row
# each; the report counts what the archive holds. After a restart (with
# --demo again, which must not publish the examples twice) the file still
# works. When Kafka's data is deleted, the archive is moved aside.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/dev_common.bash"
dev_setup
mkdir "$WORK/elsewhere"

# the commands of NEXT-STEPS.txt, one file per step (comment lines separate them)
split_steps() {
        rm -f "$WORK"/step-*.sh
        awk -v dir="$WORK" '/^# [0-9]\./ {n++; next} /^#/ {next} n {print > (dir "/step-" n ".sh")}' \
                "$DEVDIR/NEXT-STEPS.txt"
        [[ $(ls "$WORK"/step-*.sh | wc -l) -eq 3 ]] || { cat "$DEVDIR/NEXT-STEPS.txt" >&2; pb_fail "NEXT-STEPS.txt does not hold three steps"; }
}

# run STEP: the step's commands with bash in another directory; its output in step-N.out
run_step() {
        local rc=0
        (cd "$WORK/elsewhere" && bash -e "$WORK/step-$1.sh") >"$WORK/step-$1.out" 2>"$WORK/step-$1.err" || rc=$?
        ((rc == 0)) || { cat "$WORK/step-$1.sh" "$WORK/step-$1.out" "$WORK/step-$1.err" >&2; pb_fail "step $1 failed with exit status $rc"; }
}

dev_start out.txt err.txt --demo
pb_wait_line "$devpid" err.txt '^demo: published' "dev exited early" "demo did not finish in 60 s"
split_steps
# the banner prints each command line of the file, indented
while IFS= read -r line; do
        [[ $line == '#'* ]] && continue
        grep -qxF "   $line" err.txt || pb_fail "banner lacks the command line: $line"
done <"$DEVDIR/NEXT-STEPS.txt"

ngrants=$(ls "$PB_SOURCE_DIR"/schemas/examples/valid/funds.granted/*.json | wc -l)
nexamples=$(ls "$PB_SOURCE_DIR"/schemas/examples/valid/*/*.json | wc -l)
# the archive relay commits each second: wait until it holds the demo
archived() { "$PB_BIN" replay --from-archive "$DEVDIR/archive" --topics aid.dispatched,aid.delivered,funds.granted,partnership.founded --format jsonl 2>/dev/null | wc -l; }
archive_has_demo() { (($(archived) >= nexamples)); }
pb_wait_for 30 archive_has_demo

for round in 1 2; do
        # 1: a new event, 201, never a duplicate; twice gives two events
        run_step 1
        id1=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["duplicate"] is False, d; print(d["event_id"])' "$WORK/step-1.out") ||
                pb_fail "step 1 did not publish a new event: $(cat "$WORK/step-1.out")"
        run_step 1
        id2=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["duplicate"] is False, d; print(d["event_id"])' "$WORK/step-1.out") ||
                pb_fail "step 1 run again did not publish a new event"
        [[ $id1 != "$id2" ]] || pb_fail "step 1 published the same event twice"
        # 2: CSV, a header and one row per grant of the demo
        run_step 2
        rows=$(python3 -c 'import csv,sys; r=list(csv.reader(open(sys.argv[1], encoding="utf-8"))); assert r[0][0]=="event_id", r[0]; print(len(r)-1)' "$WORK/step-2.out")
        [[ $rows -eq $ngrants ]] || pb_fail "step 2 gave $rows CSV rows, want $ngrants"
        # 3: the report of the archive
        run_step 3
        report=$(sed -n 's/.*--out \([^ ]*\).*/\1/p' "$WORK/step-3.sh")
        [[ -s $report/report.html && -s $report/summary.json ]] || pb_fail "step 3 wrote no report in $report"
        counted=$(sed -n 's/.*report: \([0-9]*\) events.*/\1/p' "$WORK/step-3.err")
        [[ -n $counted ]] && ((counted >= nexamples)) || pb_fail "step 3's report counted '${counted}' events, want at least $nexamples"
        pb_log "round $round: the three steps succeeded ($rows grants, events $id1 $id2)"
        if ((round == 1)); then
                dev_stop
                # with --demo again: the examples are not sent twice (step 2 counts the grants)
                dev_start out2.txt err2.txt --demo
                pb_wait_line "$devpid" err2.txt '^demo: the examples are in Kafka' "dev exited early" "dev sent the demo again"
                split_steps
        fi
done
dev_stop

# Kafka's data deleted: the archive filled from it must not outlive it
# (the report from the archive would count events Kafka no longer has)
rm -rf "$DEVDIR/kafka"
dev_start out3.txt err3.txt
grep -q "was filled from another Kafka (its data is gone); moved it to $DEVDIR/archive.old-" err3.txt ||
        { cat err3.txt >&2; pb_fail "the old archive was not moved aside"; }
n=$(archived)
((n == 0)) || pb_fail "the new archive holds $n events of the deleted Kafka"
ls -d "$DEVDIR"/archive.old-* >/dev/null || pb_fail "no archive.old-*"
dev_stop
echo "dev_next_steps: ok"
