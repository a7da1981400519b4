#!/usr/bin/env bash
# gateway_framing.sh (issue 11, finding 6): requests that different HTTP
# parsers read differently are refused, over raw sockets
# (tests/gateway/framing.py): Content-Length together with
# Transfer-Encoding, Content-Length twice (conflicting or equal), a NUL in
# a header value ("Authorization: Bearer <token>\0junk" authenticated, as
# the value was compared up to the NUL): 400 (or 401), one status line,
# connection closed (nothing smuggled behind it is answered).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup python3
gw_tokens blau-gelbes-kreuz
gw_start framing --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http
python3 "$GW_HELPERS/framing.py" "$GW_PORT" tok-blau-gelbes-kreuz >"$PB_TMP/framing.out" ||
        pb_fail "$(cat "$PB_TMP/framing.out")"
pb_log "$(cat "$PB_TMP/framing.out")"
