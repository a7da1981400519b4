#!/usr/bin/env bash
# CI formatting check: every tracked .c/.h file is formatted as the committed
# .clang-format says (clang-format-14, Debian package clang-format-14).
# Fix with:
#   git ls-files '*.c' '*.h' | xargs clang-format-14 -i
set -euo pipefail
SRC=${PB_SOURCE_DIR:?}
CF=${CLANG_FORMAT:-clang-format-14}
command -v "$CF" >/dev/null || { echo "FAIL: $CF not found (scripts/setup.sh installs it)" >&2; exit 1; }
cd "$SRC"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        mapfile -t files < <(git ls-files '*.c' '*.h')
else
        mapfile -t files < <(find . -path ./tests/fuzz/corpus -prune -o \
                \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||' | sort)
fi
[ ${#files[@]} -gt 0 ] || { echo "FAIL: no sources found under $SRC" >&2; exit 1; }
"$CF" --style=file --dry-run --Werror "${files[@]}"
echo "format: ${#files[@]} files OK"
