#!/usr/bin/env bash
# The fuzz targets as regression tests, with a verdict that does not depend
# on luck: every input of the committed corpus runs once, then a fixed
# number of mutations from a fixed seed, so the same tree gives the same
# verdict every time. Exploring with random seeds is tests/fuzz/explore.sh.
#
#   run.sh FUZZER_BINARY CORPUS_DIR RUNS [SEED]
#
# RUNS: mutations after the corpus (0: the corpus only); SEED: libFuzzer's
# -seed (default 1729, never 0, which libFuzzer takes as "random").
# Works on a copy of the corpus, so the committed corpus only changes on
# purpose. Exit status: libFuzzer's (non-zero when an input crashed, leaked,
# timed out or ran out of memory); 2 for bad usage. On failure the log and
# the crashing input are kept and named, with the command that reproduces it.
set -u

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
        echo "usage: $0 FUZZER_BINARY CORPUS_DIR RUNS [SEED]" >&2
        exit 2
fi
fuzzer=$1 corpus=$2 runs=$3 seed=${4:-1729}

if [ ! -x "$fuzzer" ]; then
        echo "run.sh: fuzzer '$fuzzer' is not an executable" >&2
        exit 2
fi
if [ ! -d "$corpus" ]; then
        echo "run.sh: corpus directory '$corpus' does not exist" >&2
        exit 2
fi
case $runs in
''|*[!0-9]*) echo "run.sh: RUNS must be a whole number" >&2; exit 2 ;;
esac
case $seed in
''|0|*[!0-9]*) echo "run.sh: SEED must be a positive whole number" >&2; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/pb-fuzz.XXXXXX") || exit 2
mkdir -p "$work/corpus" "$work/artifacts"
cp -R "$corpus/." "$work/corpus/"
ncorpus=$(find "$work/corpus" -type f | wc -l)

# the same limits in both steps and in explore.sh
opts=(-timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
      -artifact_prefix="$work/artifacts/")

fail() { # step log rc
        tail -n 60 "$2"
        echo "run.sh: $1 failed (exit status $3); log and inputs kept in $work" >&2
        for a in "$work"/artifacts/*; do
                [ -e "$a" ] || continue
                echo "run.sh: reproduce with: $fuzzer $a" >&2
        done
        exit "$3"
}

# 1. the committed corpus, each input once: the regression test proper
"$fuzzer" "${opts[@]}" -runs=0 "$work/corpus" >"$work/corpus.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "the committed corpus" "$work/corpus.log" "$rc"

# 2. RUNS mutations from SEED: deterministic for a given tree
if [ "$runs" -gt 0 ]; then
        "$fuzzer" "${opts[@]}" -seed="$seed" -runs="$runs" "$work/corpus" \
                >"$work/mutate.log" 2>&1
        rc=$?
        [ "$rc" -eq 0 ] || fail "mutations (seed $seed, $runs runs)" "$work/mutate.log" "$rc"
fi
echo "$(basename "$fuzzer"): $ncorpus corpus inputs, $runs mutations (seed $seed): ok"
rm -rf "$work"
exit 0
