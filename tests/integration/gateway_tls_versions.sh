#!/usr/bin/env bash
# gateway_tls_versions.sh (issue 11, finding 7): the gateway's HTTPS
# speaks TLS 1.2 and 1.3 only, with AEAD ciphers. openssl s_client with
# -tls1 and -tls1_1 (and @SECLEVEL=0, so the client would accept them)
# fails to connect; -tls1_2 and -tls1_3 connect; a TLS 1.2 CBC suite
# (ECDHE-RSA-AES256-SHA) is refused.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup openssl curl
gw_tokens blau-gelbes-kreuz
gw_self_signed
gw_start tls --brokers "$B" --tokens "$PB_TMP/tokens" \
        --tls-cert "$PB_TMP/cert.pem" --tls-key "$PB_TMP/key.pem"
S=$GW_PORT

# try ARGS...: 0 when a handshake completed
try() {
        echo | timeout 10 openssl s_client -connect "127.0.0.1:$S" "$@" >"$PB_TMP/s_client.out" 2>&1 &&
                grep -q '^New, TLS' "$PB_TMP/s_client.out"
}
for v in tls1 tls1_1; do
        if try "-$v" -cipher 'DEFAULT:@SECLEVEL=0'; then
                pb_fail "-$v negotiated: $(grep -m1 '^New,' "$PB_TMP/s_client.out")"
        fi
        pb_log "-$v refused"
done
for v in tls1_2 tls1_3; do
        try "-$v" || pb_fail "-$v failed: $(tail -5 "$PB_TMP/s_client.out")"
        pb_log "-$v: $(grep -m1 '^New,' "$PB_TMP/s_client.out")"
done
if try -tls1_2 -cipher 'ECDHE-RSA-AES256-SHA:@SECLEVEL=0'; then
        pb_fail "TLS 1.2 with a CBC suite negotiated: $(grep -m1 '^New,' "$PB_TMP/s_client.out")"
fi
[[ $(curl -s --cacert "$PB_TMP/cert.pem" "https://127.0.0.1:$S/healthz") == ok ]] || pb_fail "curl over HTTPS"
pb_log "ok"
