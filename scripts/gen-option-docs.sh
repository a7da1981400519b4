#!/usr/bin/env bash
# Rewrites the option tables in docs/*.md from the code's tables: every
# block between <!-- options:SERVICE begin --> and <!-- options:SERVICE end -->
# gets the output of `partnerbus SERVICE --help-markdown`.
#
#   scripts/gen-option-docs.sh [--check] [PARTNERBUS_BINARY]
#
# --check changes nothing and exits 1 when a block differs from the code
# (tests/static/option_docs.sh). The binary defaults to $PB_BIN, then
# build/services/partnerbus.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
check=0
if [ "${1:-}" = "--check" ]; then
        check=1
        shift
fi
bin=${1:-${PB_BIN:-$here/build/services/partnerbus}}
[ -x "$bin" ] || { echo "gen-option-docs: no binary $bin" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for doc in "$here"/docs/*.md; do
        services=$(sed -n 's/^<!-- options:\([a-z]*\) begin -->$/\1/p' "$doc")
        [ -n "$services" ] || continue
        cp "$doc" "$tmp/doc"
        for svc in $services; do
                env -u PARTNERBUS_CONFIG "$bin" "$svc" --help-markdown >"$tmp/table"
                awk -v svc="$svc" -v table="$tmp/table" '
                        $0 == "<!-- options:" svc " begin -->" {
                                print; while ((getline l < table) > 0) print l
                                skip = 1; next
                        }
                        $0 == "<!-- options:" svc " end -->" { skip = 0 }
                        !skip { print }' "$tmp/doc" >"$tmp/next"
                mv "$tmp/next" "$tmp/doc"
        done
        if ! cmp -s "$doc" "$tmp/doc"; then
                if [ $check = 1 ]; then
                        echo "${doc#"$here"/}: option tables differ from the code" \
                                "(run scripts/gen-option-docs.sh):" >&2
                        diff -u "$doc" "$tmp/doc" >&2 || true
                        status=1
                else
                        cp "$tmp/doc" "$doc"
                        echo "updated ${doc#"$here"/}"
                fi
        fi
done
exit $status
