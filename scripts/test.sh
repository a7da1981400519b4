#!/usr/bin/env bash
# partnerbus: set up and run every test (unit, ASan+UBSan, valgrind, fuzz,
# integration against a real Apache Kafka 3.9.1 started on loopback).
# The last thing printed is ctest's summary. Extra arguments go to ctest,
# e.g. scripts/test.sh -L unit  or  -R roundtrip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
BUILD=${PB_BUILD_DIR:-$PWD/build}
# the venv of tests/python/requirements.txt (made by setup.sh --test)
PB_VENV=$(dirname "$(dirname "$(source tests/kafka/lib.sh && pb_python_venv)")")
export PB_VENV
exec ctest --test-dir "$BUILD" --output-on-failure -j2 "$@"
