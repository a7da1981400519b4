#!/usr/bin/env bash
# gateway_slow_clients.sh (issue 11, finding 5): slow clients cannot take
# every connection. With --max-connections 20, 24 connections from
# 127.0.0.1 that send a header line every second and never finish their
# request head: only --max-connections-per-address (default
# max(4, 20/8) = 4) of them are accepted, /healthz from another address
# (127.0.0.2) keeps answering at once, and the accepted ones are closed
# at --header-timeout although bytes keep coming (--conn-timeout, reset
# by every byte, would keep them for ever). The new settings are given
# through the environment, as a deployment would.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup python3
gw_tokens blau-gelbes-kreuz
PARTNERBUS_HEADER_TIMEOUT=3s gw_start slow --brokers "$B" --tokens "$PB_TMP/tokens" \
        --insecure-http --max-connections 20 --conn-timeout 30s
P=$GW_PORT
python3 "$GW_HELPERS/slowloris.py" "$P" 24 1 3 4 >"$PB_TMP/slow.out" ||
        pb_fail "$(cat "$PB_TMP/slow.out")"
pb_log "$(cat "$PB_TMP/slow.out")"
grep -q 'request head not complete within --header-timeout' "$PB_TMP/slow.log" ||
        pb_fail "closing at the head deadline not logged"
# ordinary clients are unaffected afterwards
[[ $(curl -s "http://127.0.0.1:$P/healthz") == ok ]] || pb_fail "/healthz after the slow clients"
pb_log "ok"
