#!/usr/bin/env bash
# run_sanitized.sh NAME SCRIPT: runs an integration test with the ASan+UBSan
# binary ($PB_BIN = partnerbus_san) and fails if any sanitizer report was
# written, even when the test itself passed (a service that a sanitizer
# aborts may look like a service that merely exited).
set -uo pipefail
name=$1
script=$2
dir=${PB_BINARY_DIR:?}
rm -f "$dir"/asan-"$name".* "$dir"/ubsan-"$name".*
bash "$script"
rc=$?
reports=$(ls "$dir"/asan-"$name".* "$dir"/ubsan-"$name".* 2>/dev/null || true)
if [[ -n $reports ]]; then
        for r in $reports; do
                echo "=== sanitizer report $r" >&2
                head -60 "$r" >&2
        done
        echo "$name: FAIL: sanitizer reports above" >&2
        exit 1
fi
exit $rc
