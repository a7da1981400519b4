#!/usr/bin/env bash
# The option tables in docs/*.md (between <!-- options:SERVICE begin/end -->)
# are what `partnerbus SERVICE --help-markdown` prints from the code's
# tables: fails when they drift (fix: scripts/gen-option-docs.sh).
set -euo pipefail
SRC=${PB_SOURCE_DIR:?}
BIN=${PB_BIN:?}
n=$(grep -l '^<!-- options:[a-z]* begin -->$' "$SRC"/docs/*.md | wc -l)
[ "$n" -ge 1 ] || { echo "FAIL: no generated option tables in docs/" >&2; exit 1; }
bash "$SRC/scripts/gen-option-docs.sh" --check "$BIN"
echo "option tables in $n docs match the code"
