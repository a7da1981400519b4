#!/usr/bin/env bash
# kafka_smoke.sh: the real broker of the kafka fixture is reachable and
# keeps what it is given: publish keyed messages with headers (acks=all,
# idempotent) through kcat, read them back, compare keys, values, headers and
# per-key order. Later integration tests follow this pattern.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"

pb_require_cmd kcat
B=$(pb_bootstrap)
T=$(pb_topic_name smoke)
pb_tmpdir
pb_log "broker $B, topic $T"

# 30 messages over 3 keys; values carry UTF-8 (Köln, Дніпро) and a tab-free
# payload so the '\t'-separated output below is unambiguous
for i in $(seq 1 30); do
        k=key-$((i % 3))
        printf '%s\tmsg %02d Köln→Дніпро\n' "$k" "$i"
done >"$PB_TMP/in.tsv"

pb_kcat_produce "$B" "$T" -K $'\t' -X enable.idempotence=true \
        -H ce_specversion=1.0 -H content-type=application/avro <"$PB_TMP/in.tsv"

pb_kcat_consume "$B" "$T" 30 -f '%k\t%s\t%h\t%p\n' >"$PB_TMP/out.tsv"

n=$(wc -l <"$PB_TMP/out.tsv")
[[ $n -eq 30 ]] || pb_fail "read $n messages, expected 30"

# same messages (partition order may interleave keys: compare sorted)
cut -f1,2 "$PB_TMP/out.tsv" | sort >"$PB_TMP/got.sorted"
sort "$PB_TMP/in.tsv" >"$PB_TMP/want.sorted"
diff -u "$PB_TMP/want.sorted" "$PB_TMP/got.sorted" >&2 || pb_fail "messages read back differ from those published"

# headers arrived on every message
bad=$(awk -F'\t' '$3 != "ce_specversion=1.0,content-type=application/avro"' "$PB_TMP/out.tsv" | head -n 3)
[[ -z $bad ]] || pb_fail "headers missing or wrong: $bad"

# one key, one partition, order kept within it
for k in key-0 key-1 key-2; do
        parts=$(awk -F'\t' -v k="$k" '$1 == k { print $4 }' "$PB_TMP/out.tsv" | sort -u | wc -l)
        [[ $parts -eq 1 ]] || pb_fail "key $k spread over $parts partitions"
        awk -F'\t' -v k="$k" '$1 == k { print $2 }' "$PB_TMP/out.tsv" >"$PB_TMP/order.got"
        awk -F'\t' -v k="$k" '$1 == k { print $2 }' "$PB_TMP/in.tsv" >"$PB_TMP/order.want"
        diff -q "$PB_TMP/order.want" "$PB_TMP/order.got" >/dev/null || pb_fail "order of key $k not kept"
done

pb_log "ok: 30 messages, headers and per-key order kept"
