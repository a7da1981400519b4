#!/usr/bin/env bash
# kafka_cluster3.sh: the harness's three-node cluster replicates and
# survives a node: topics get 3 replicas, acks=all publishing goes on with
# one node killed (min.insync.replicas=2), the node rejoins the ISR after
# start-node on its old storage, and nothing published is lost.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"

pb_require_cmd kcat
trap pb_stop_cluster3 EXIT
DIR=$(pb_cluster3_dir)
B=$(pb_start_cluster3)
T=$(pb_topic_name cluster3)
pb_log "cluster $B, topic $T"

md=$(timeout 30 kcat -b "$B" -L -m 10)
grep -q '^ 3 brokers:' <<<"$md" || pb_fail "metadata does not list 3 brokers: $md"

seq -f 'before-%g' 1 30 | pb_kcat_produce "$B" "$T" -X enable.idempotence=true

# every partition of the auto-created topic has 3 replicas, all in sync
isr_full() {
        local m
        m=$(timeout 30 kcat -b "$B" -L -t "$T" -m 10 2>/dev/null) || return 1
        [[ $(grep -c 'partition [0-9]*,' <<<"$m") -eq 3 ]] || return 1
        ! grep 'partition [0-9]*,' <<<"$m" | grep -vq 'replicas: [1-3],[1-3],[1-3], isrs: [1-3],[1-3],[1-3]$'
}
pb_wait_for 60 isr_full

"$PB_HARNESS" kill-node --dir "$DIR" 2
[[ $("$PB_HARNESS" status --dir "$DIR" | awk '$1 == 2 { print $3 }') == down ]] || pb_fail "node 2 still up after kill-node"

# acks=all still succeeds with 2 of 3 in sync
seq -f 'during-%g' 1 30 | pb_kcat_produce "$B" "$T" -X enable.idempotence=true 2>/dev/null

"$PB_HARNESS" start-node --dir "$DIR" 2 || pb_fail "node 2 did not come back"
pb_wait_for 120 isr_full

got=$(pb_kcat_consume "$B" "$T" 60 | sort)
want=$( (seq -f 'before-%g' 1 30; seq -f 'during-%g' 1 30) | sort)
[[ $got == "$want" ]] || pb_fail "messages lost or duplicated across the node failure"
pb_log "ok: 3 replicas, publishing through a node failure, node rejoined, 60/60 messages"
