#!/usr/bin/env bash
# Exploratory fuzzing: every fuzz target (or the ones named) with a random
# seed for a while, beyond what the test suite runs. Run it before you stop
# working on a parser; it is not part of the test command, whose fuzz tests
# are deterministic (tests/fuzz/run.sh).
#
#   tests/fuzz/explore.sh [--minutes N] [--jobs J] [--build DIR] [--merge] [TARGET...]
#
#   --minutes N   minutes per target (default 10)
#   --jobs J      targets fuzzed at the same time (default: the number of cores)
#   --build DIR   the build directory with tests/fuzz_* (default build)
#   --merge       add the inputs that reach new coverage to the committed
#                 corpus (libFuzzer -merge=1; review them before committing)
#   TARGET        archive, avro_check, ... (default: every tests/fuzz/fuzz_*.c)
#
# A crash, leak, timeout or out-of-memory input is minimised and written to
# tests/fuzz/corpus/TARGET/crash-<sha1>, so that the deterministic fuzz test
# replays it from then on; the script prints the command that reproduces it.
# Fix the bug, keep the file, commit both. Exit status: 1 when anything was
# found, 0 otherwise. A summary per target (runs, seed, result) goes to
# stdout and to build/fuzz-explore/summary.txt.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
minutes=10 jobs=$(nproc) build=$ROOT/build merge=0 targets=()
while [ $# -gt 0 ]; do
        case $1 in
        --minutes) minutes=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --merge) merge=1; shift ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "explore.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
        esac
done
for n in "$minutes" "$jobs"; do
        case $n in ''|0|*[!0-9]*) echo "explore.sh: --minutes and --jobs take positive whole numbers" >&2; exit 2 ;; esac
done
if [ ${#targets[@]} -eq 0 ]; then
        for f in tests/fuzz/fuzz_*.c; do
                t=$(basename "$f" .c); targets+=("${t#fuzz_}")
        done
fi
for t in "${targets[@]}"; do
        if [ ! -x "$build/tests/fuzz_$t" ]; then
                echo "explore.sh: $build/tests/fuzz_$t not built (scripts/setup.sh builds it with clang)" >&2
                exit 2
        fi
done

out=$build/fuzz-explore
rm -rf "$out"
mkdir -p "$out"

# one target: fuzz a copy of its corpus with a random seed; minimise and
# keep what crashed
explore_one() {
        local t=$1 w=$out/$1 fz=$build/tests/fuzz_$1 seed rc a sum runs
        mkdir -p "$w/corpus" "$w/artifacts"
        cp -R "tests/fuzz/corpus/$t/." "$w/corpus/"
        seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
        [ "$seed" -eq 0 ] && seed=1
        "$fz" -seed="$seed" -max_total_time=$((minutes * 60)) -timeout=10 \
                -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
                -artifact_prefix="$w/artifacts/" "$w/corpus" >"$w/fuzz.log" 2>&1
        rc=$?
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/fuzz.log" | tail -n 1)
        if [ "$rc" -eq 0 ]; then
                echo "$t: seed $seed, ${runs:-?} runs in ${minutes} min: nothing found" >"$w/result"
                if [ "$merge" -eq 1 ]; then
                        "$fz" -merge=1 "tests/fuzz/corpus/$t" "$w/corpus" >"$w/merge.log" 2>&1
                        echo "$t: merged new inputs into tests/fuzz/corpus/$t ($(grep -o 'added [0-9]* new units' "$w/merge.log" || echo 'see merge.log'))" >>"$w/result"
                fi
                return 0
        fi
        for a in "$w"/artifacts/*; do
                [ -e "$a" ] || continue
                # the smallest input that still fails the same way
                "$fz" -minimize_crash=1 -runs=20000 -timeout=10 \
                        -exact_artifact_path="$a.min" "$a" >"$w/minimize.log" 2>&1
                [ -s "$a.min" ] && a=$a.min
                sum=$(sha1sum "$a" | cut -c1-40)
                cp "$a" "tests/fuzz/corpus/$t/crash-$sum"
                echo "$t: seed $seed: FOUND ($(grep -m1 -oE 'ERROR: [A-Za-z]+: [^ ]+( [^ ]+)?|deadly signal|timeout|out-of-memory' "$w/fuzz.log" || echo "exit $rc"))" >>"$w/result"
                echo "  kept as tests/fuzz/corpus/$t/crash-$sum; reproduce: $fz tests/fuzz/corpus/$t/crash-$sum; log: $w/fuzz.log" >>"$w/result"
        done
        [ -s "$w/result" ] || echo "$t: seed $seed: exit $rc without an input; log: $w/fuzz.log" >"$w/result"
        return 1
}

echo "explore.sh: ${#targets[@]} targets, $minutes min each, $jobs at a time; work in $out"
found=0 running=0 pids=()
for t in "${targets[@]}"; do
        explore_one "$t" &
        pids+=($!)
        running=$((running + 1))
        if [ "$running" -ge "$jobs" ]; then
                wait -n || found=1
                running=$((running - 1))
        fi
done
while [ "$running" -gt 0 ]; do
        wait -n || found=1
        running=$((running - 1))
done
for t in "${targets[@]}"; do cat "$out/$t/result"; done | tee "$out/summary.txt"
exit $found
