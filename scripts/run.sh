#!/usr/bin/env bash
# partnerbus: set up, build, and run the whole bus on this machine with the
# seed examples flowing through it (partnerbus dev --demo). Ctrl-C stops it.
# Extra arguments go to partnerbus dev, e.g. scripts/run.sh --listen 127.0.0.1:8081
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec "${PB_BUILD_DIR:-$PWD/build}/services/partnerbus" dev --demo "$@"
