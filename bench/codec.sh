#!/usr/bin/env bash
# Codec benchmark, one core: partnerbus's codec side by side with avro-c's
# generic-value path, per event type (see bench/README.md).
#   bench/codec.sh [EVENTS] [TYPE]      (default 200000 events, all types)
# Builds bench_codec in build-bench/ (Release) unless BENCH_BIN is set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
n=${1:-200000}
type=${2:-}
bin=${BENCH_BIN:-}
if [ -z "$bin" ]; then
        build=${BENCH_BUILD_DIR:-$root/build-bench}
        cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
                -DPB_SAN_VARIANT=OFF -DPB_BUILD_TESTS=OFF >/dev/null
        cmake --build "$build" --target bench_codec -j"$(nproc)" >/dev/null
        bin=$build/bench/bench_codec
fi
export PARTNERBUS_SCHEMAS=${PARTNERBUS_SCHEMAS:-$root/schemas}
echo "# $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# pin to one core when taskset is there
if command -v taskset >/dev/null; then
        exec taskset -c 0 "$bin" "$n" $type
fi
exec "$bin" "$n" $type
