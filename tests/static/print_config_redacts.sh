#!/usr/bin/env bash
# --print-config never shows credentials inside URLs (user:password@, secret
# query parameters): the feed's URL, the schema registry, a webhook
# endpoint, -X values. Issue 11, finding 13.
set -euo pipefail
bin=${PB_BIN:?PB_BIN not set}
map=${PB_SOURCE_DIR:?}/tests/poll/feeds/grants.map.json
fail() { echo "print_config_redacts: FAIL: $*" >&2; exit 1; }
check() { # WHAT OUTPUT
        if grep -q -e 'sekret' -e 'hunter2' -e 'tok-abc' <<<"$2"; then
                fail "$1 printed a secret: $(grep -e sekret -e hunter2 -e tok-abc <<<"$2")"
        fi
        grep -q '\*\*\*' <<<"$2" || fail "$1: nothing masked"
}
out=$("$bin" poll --url 'https://feeduser:sekret@feed.example/grants.csv?token=tok-abc&page=1' \
        --type funds.granted --map "$map" --schema-registry 'https://reg:hunter2@registry.example/apis' \
        --print-config)
check poll "$out"
grep -q '^url = https://\*\*\*@feed.example/grants.csv?token=\*\*\*&page=1$' <<<"$out" || fail "poll url: $(grep '^url' <<<"$out")"
out=$("$bin" relay --brokers 127.0.0.1:9 --group g --topics aid.dispatched \
        --sink 'webhook:https://hook:sekret@agency.example/in?sig=tok-abc' --print-config)
check relay "$out"
echo "print_config_redacts: ok"
