#!/usr/bin/env bash
# Checks deploy/ as far as this machine allows (there is no container engine
# here): the YAML parses and says what the README promises, the systemd units
# pass systemd-analyze verify, and the Dockerfile builds with the same
# script as everyone else and installs the runtime libraries the binary
# really links.
set -euo pipefail
SRC=${PB_SOURCE_DIR:?}
BIN=${PB_BIN:?}
fail() { echo "FAIL: $*" >&2; exit 1; }

python3 - "$SRC" <<'PY'
import sys, yaml
src = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(f"{src}/deploy/kubernetes/partnerbus.yaml")) if d]
kinds = sorted(d["kind"] for d in docs)
need = ["ConfigMap", "Deployment", "Deployment", "PodDisruptionBudget", "PodDisruptionBudget", "Service"]
for k in need:
    assert k in kinds, f"kubernetes: no {k}"
for d in docs:
    if d["kind"] != "Deployment":
        continue
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", d["metadata"]["name"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", d["metadata"]["name"]
    assert "limits" in c["resources"] and "requests" in c["resources"]
compose = yaml.safe_load(open(f"{src}/deploy/compose/compose.yaml"))
kafka = [n for n in compose["services"] if n.startswith("kafka")]
assert len(kafka) == 3, kafka
for n in kafka:
    env = compose["services"][n]["environment"]
    assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
    assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
assert "gateway" in compose["services"] and any(s.startswith("relay") for s in compose["services"])
print("yaml: kubernetes (%d objects) and compose (%d services) parse and hold the promised settings" % (len(docs), len(compose["services"])))
PY

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for u in "$SRC"/deploy/systemd/*.service; do
        name=$(basename "$u")
        name=${name/@./@test.}
        sed "s|/usr/local/bin/partnerbus|$BIN|g" "$u" > "$tmp/$name"
done
systemd-analyze verify "$tmp"/*.service || fail "systemd-analyze verify"
echo "systemd: $(ls "$tmp" | wc -l) units verified"

# every shipped config file is read by the services it is meant for:
# --print-config parses it exactly as they do (unknown values fail)
python3 - "$SRC" "$tmp" <<'PY'
import sys, yaml
src, tmp = sys.argv[1], sys.argv[2]
for d in yaml.safe_load_all(open(f"{src}/deploy/kubernetes/partnerbus.yaml")):
    if d and d["kind"] == "ConfigMap":
        open(f"{tmp}/k8s.conf", "w").write(d["data"]["partnerbus.conf"])
PY
for conf in "$tmp/k8s.conf" "$SRC/deploy/compose/partnerbus.conf"; do
        for svc in gateway relay; do
                out=$(PARTNERBUS_BROKERS=kafka:9092 "$BIN" "$svc" --config "$conf" --print-config 2>&1) ||
                        fail "$svc cannot read $conf: $out"
        done
        echo "$out" | grep -q '^sink = archive:' || fail "relay settings of $conf not applied"
done
echo "config: the Kubernetes and compose configs parse for gateway and relay"

df="$SRC/deploy/Dockerfile"
grep -q 'scripts/setup.sh' "$df" || fail "Dockerfile does not build with scripts/setup.sh"
grep -q '^USER ' "$df" || fail "Dockerfile runs as root"
# every shared library the binary links must come from a package the
# runtime stage installs
runtime_line=$(sed -n '/^FROM debian:bookworm-slim/,$p' "$df" | tr -d '\\\n')
for lib in $(ldd "$BIN" | awk '/=> \//{print $3}'); do
        pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -1 | cut -d: -f1) || true
        [ -z "$pkg" ] && pkg=$(dpkg -S "$lib" 2>/dev/null | head -1 | cut -d: -f1) || true
        case "$pkg" in
        librdkafka1|libavro23|libcjson1|libcurl4|libmicrohttpd12|libssl3|libxlsxwriter4)
                echo "$runtime_line" | grep -qw "$pkg" || fail "Dockerfile runtime stage lacks $pkg (for $lib)";;
        esac
done
echo "Dockerfile: built by scripts/setup.sh, non-root, runtime packages cover the linked libraries"
echo "deploy checks passed (not run here: docker build, docker compose up, kubectl apply)"
