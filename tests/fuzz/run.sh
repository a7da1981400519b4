#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time on a copy of its committed
# corpus (so the committed corpus only changes on purpose).
#   run.sh FUZZER_BINARY CORPUS_DIR SECONDS
# Exit status: libFuzzer's (non-zero when it found a crash, leak, timeout or
# OOM); 2 for bad usage. Prints the number of runs at the end. Crash inputs
# are written to the work directory, which is kept and named on failure.
set -u

if [ $# -ne 3 ]; then
        echo "usage: $0 FUZZER_BINARY CORPUS_DIR SECONDS" >&2
        exit 2
fi
fuzzer=$1 corpus=$2 seconds=$3

if [ ! -x "$fuzzer" ]; then
        echo "run.sh: fuzzer '$fuzzer' is not an executable" >&2
        exit 2
fi
if [ ! -d "$corpus" ]; then
        echo "run.sh: corpus directory '$corpus' does not exist" >&2
        exit 2
fi
case $seconds in
''|*[!0-9]*) echo "run.sh: SECONDS must be a positive integer" >&2; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/pb-fuzz.XXXXXX") || exit 2
mkdir -p "$work/corpus" "$work/artifacts"
cp -R "$corpus/." "$work/corpus/"

log="$work/fuzz.log"
"$fuzzer" "$work/corpus" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" >"$log" 2>&1
rc=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
if [ -z "$runs" ]; then
        runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1 | grep -o '[0-9]*')
fi
echo "$(basename "$fuzzer"): ${runs:-0} runs in ${seconds}s, exit status $rc"

if [ "$rc" -ne 0 ]; then
        tail -n 60 "$log"
        echo "run.sh: fuzzer failed; log and crash inputs kept in $work" >&2
        exit "$rc"
fi
rm -rf "$work"
exit 0
