#!/usr/bin/env bash
# partnerbus setup: installs what building and testing need on Debian
# bookworm, then configures and builds into build/.
#
#   scripts/setup.sh            apt packages + build
#   scripts/setup.sh --kafka    also what 'partnerbus dev' runs: Java and
#                               Apache Kafka's jars (Maven Central, with
#                               Maven); scripts/run.sh uses this
#   scripts/setup.sh --test     also every test dependency (Kafka included),
#                               the Python venv for the agency-client test
#
# Environment: PB_BUILD_DIR (default build), PB_CACHE (default
# ~/.cache/partnerbus), CC (default clang-14, needed for the fuzz targets).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${PB_BUILD_DIR:-$ROOT/build}
CACHE=${PB_CACHE:-$HOME/.cache/partnerbus}
WANT_TEST=0
WANT_KAFKA=0
for a in "$@"; do
        case $a in
        --test) WANT_TEST=1 WANT_KAFKA=1 ;;
        --kafka) WANT_KAFKA=1 ;;
        *) printf 'setup: unknown option %s (--kafka, --test)\n' "$a" >&2; exit 2 ;;
        esac
done

log() { printf 'setup: %s\n' "$*" >&2; }

# Build dependencies, all from Debian's packages (deploy/Dockerfile runs this
# same script in its build stage).
PKGS=(build-essential cmake pkg-config clang-14 libclang-rt-14-dev
      librdkafka-dev libavro-dev libcjson-dev libcurl4-openssl-dev
      libmicrohttpd-dev libssl-dev libcmocka-dev libxlsxwriter-dev ca-certificates)
# Test dependencies: Java and Maven for the real Kafka broker, kcat, valgrind,
# Python for the agency-client test, curl, openssl/gnutls for TLS tests, wrk
# for the benchmarks, chromium for the report screenshot and PDF, poppler-utils
# (pdftotext, pdfinfo) to read the PDF back, clang-format-14 for the
# formatting check (static.format), xmllint for the IATI schema check
# (it.report_iati), chromium-driver and npm for the console's browser test
# (it.console_browser: Selenium from the venv, axe-core from npm).
TEST_PKGS=(valgrind kcat curl jq bc openssl gnutls-bin python3 python3-venv python3-yaml
           openjdk-17-jdk-headless maven wrk chromium fonts-dejavu-core clang-format-14
           poppler-utils libxml2-utils chromium-driver npm)
# What partnerbus dev runs: Apache Kafka on Java, its jars fetched by Maven.
KAFKA_PKGS=(openjdk-17-jre-headless maven python3)
[ $WANT_KAFKA -eq 1 ] && PKGS+=("${KAFKA_PKGS[@]}")
[ $WANT_TEST -eq 1 ] && PKGS+=("${TEST_PKGS[@]}")
missing=()
for p in "${PKGS[@]}"; do
        # a Node.js that brings its own npm (NodeSource's nodejs conflicts
        # with Debian's npm package) is enough
        [ "$p" = npm ] && command -v npm >/dev/null && continue
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        SUDO=""
        [ "$(id -u)" -ne 0 ] && SUDO=sudo
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ $WANT_KAFKA -eq 1 ]; then
        # the same jars for partnerbus dev and the test harness
        # (partnerbus dev --kafka-libs; default ~/.cache/partnerbus/kafka-3.9.1/libs)
        KAFKA_CACHE=${PB_KAFKA_CACHE:-$CACHE/kafka-3.9.1}
        log "fetching Apache Kafka 3.9.1 from Maven Central (cached in $KAFKA_CACHE)"
        PB_KAFKA_CACHE=$KAFKA_CACHE tests/kafka/harness.sh fetch
fi
if [ $WANT_TEST -eq 1 ]; then
        if [ -x tests/registry/registry.sh ]; then
                log "building the Apicurio schema registry from Maven Central (cached)"
                PB_REGISTRY_CACHE=${PB_REGISTRY_CACHE:-$CACHE/apicurio} tests/registry/registry.sh fetch
        fi
        log "preparing the Python venv for the agency-client tests (cached)"
        (source tests/kafka/lib.sh && pb_python_venv >/dev/null)
        log "installing axe-core for the browser test (tests/browser, npm cache)"
        (cd tests/browser && npm ci --prefer-offline --no-audit --no-fund >/dev/null)
fi

CC=${CC:-clang-14}
WERROR=OFF
[ "${CI:-}" = "true" ] && WERROR=ON
log "building in $BUILD (CC=$CC, -Werror $WERROR)"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER="$CC" -DPB_WERROR=$WERROR \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" 2>&1 | grep -E 'error|warning|Error' || true
test -x "$BUILD/services/partnerbus" || { log "build failed"; cmake --build "$BUILD" -j1; exit 1; }
log "built $BUILD/services/partnerbus"
