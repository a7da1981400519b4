#!/usr/bin/env bash
# partnerbus: set up, build, and run the whole bus on this machine with the
# seed examples flowing through it (partnerbus dev --demo): Apache Kafka
# (data kept in ./var), a gateway, an archiving relay. Ctrl-C stops it.
# Extra arguments go to partnerbus dev, e.g. scripts/run.sh --listen 127.0.0.1:8081
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --kafka
KAFKA_LIBS=${PB_KAFKA_CACHE:-${PB_CACHE:-$HOME/.cache/partnerbus}/kafka-3.9.1}/libs
exec "${PB_BUILD_DIR:-$PWD/build}/services/partnerbus" dev --demo --kafka-libs "$KAFKA_LIBS" "$@"
