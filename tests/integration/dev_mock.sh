#!/usr/bin/env bash
# partnerbus dev --mock says loudly what it is: a warning on the terminal
# before the banner, the banner names the mock, and when the mock's
# retention drops messages (about 5 MB per partition) the terminal says
# which and how many, matching what Kafka clients then find missing. The
# mock's archive does not outlive it. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/dev_common.bash"
dev_setup

# an archive left by an earlier mock run is gone at the next start
mkdir -p "$DEVDIR/mock/archive/funds.granted"
echo stale >"$DEVDIR/mock/archive/funds.granted/funds.granted-20240101T000000Z-000000.avro"

dev_start out.txt err.txt --mock --tail=false
first=$(head -n 1 err.txt)
[[ $first == *WARNING*mock*memory* ]] || { cat err.txt >&2; pb_fail "first line is not the mock's warning: $first"; }
grep -q '^  kafka .*MOCK' err.txt || pb_fail "banner does not name the mock broker"
[[ ! -e $DEVDIR/mock/archive/funds.granted/funds.granted-20240101T000000Z-000000.avro ]] ||
        pb_fail "the archive of an earlier mock run survived"
[[ ! -e $DEVDIR/kafka ]] || pb_fail "--mock started Kafka"

# 60,000 grants of about 600 bytes: more than the mock keeps per partition
python3 "$PB_SOURCE_DIR/tests/dev/gen_grants.py" 60000 7 >grants.jsonl
"$PB_BIN" produce -b "$B" -t funds.granted -f grants.jsonl 2>produce.err ||
        { cat produce.err >&2; pb_fail "produce failed"; }
grep -q 'published 60000, rejected 0' produce.err || pb_fail "produce: $(tail -n 1 produce.err)"
pb_wait_for 20 grep -q 'WARNING: the mock broker DROPPED' err.txt
sleep 3 # one more round of the check, for every partition
dropped=$(sed -n 's/.*DROPPED \([0-9]*\) message.*/\1/p' err.txt | paste -sd+ | bc)
# what a client reads from the beginning is exactly what the warnings left
read_back=$("$PB_BIN" consume -b "$B" -t funds.granted --from-beginning 2>/dev/null | wc -l)
pb_log "produced 60000, mock warned of $dropped dropped, a reader finds $read_back"
((dropped > 0)) || pb_fail "no drop reported"
((read_back + dropped == 60000)) || pb_fail "warnings say $dropped dropped, but $((60000 - read_back)) are missing"

dev_stop
echo "dev_mock: ok"
