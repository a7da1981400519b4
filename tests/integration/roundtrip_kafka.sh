#!/usr/bin/env bash
# roundtrip_kafka.sh: every schema example through `partnerbus produce` and
# `partnerbus consume` on the real Apache Kafka broker of the kafka fixture
# (see roundtrip_common.bash for what is checked).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/roundtrip_common.bash"

pb_require_cmd python3 timeout
B=$(pb_bootstrap)
P=$(pb_topic_name rt).
pb_tmpdir
pb_log "broker $B, topic prefix $P"
pb_roundtrip "$B" "$P"
pb_log "ok"
