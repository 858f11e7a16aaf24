#!/usr/bin/env bash
# Runs the Kubernetes conformance suite (the [Conformance] tests of the
# e2e.test of the release skiff's k8s.io modules are at) against a fresh
# `skiff server` whose own node runs containerd, and writes CONFORMANCE.md.
# `make conformance [FOCUS=regex] [SKIP=regex]` calls it.
#
# Environment:
#   FOCUS, SKIP           regular expressions on test names narrowing the run
#   CONFORMANCE_NODES     parallel Ginkgo processes for the tests that are not
#                         [Serial] (default 4; the [Serial] ones run alone after)
#   CONFORMANCE_OUT       the report to write (default CONFORMANCE.md)
#   CONFORMANCE_RESULTS   JUnit reports and logs (default build/conformance/results)
#   CONFORMANCE_TIMEOUT   Ginkgo's timeout for each of the two runs (default 6h)
#   SKIFF_BIN, KUBECTL_BIN, E2E_TEST_BIN, GINKGO_BIN, SKIFF_IMAGES
#                         prebuilt binaries and images; unset, `make` builds them
# It exits non-zero when a test failed (the report is written all the same).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

if [ -z "${SKIFF_BIN:-}" ]; then
  make --no-print-directory build images conformance-bin
fi
skiff=${SKIFF_BIN:-$repo/build/bin/skiff}
kubectl=${KUBECTL_BIN:-$repo/build/bin/kubectl}
e2e_test=${E2E_TEST_BIN:-$repo/build/conformance/e2e.test}
ginkgo=${GINKGO_BIN:-$repo/build/conformance/ginkgo}
images=${SKIFF_IMAGES:-$repo/build/images}
nodes=${CONFORMANCE_NODES:-4}
out=${CONFORMANCE_OUT:-$repo/CONFORMANCE.md}
results=${CONFORMANCE_RESULTS:-$repo/build/conformance/results}
timeout=${CONFORMANCE_TIMEOUT:-6h}
focus=${FOCUS:-}
skip=${SKIP:-}
k8s_version=$(cd hack/conformance/tools && go list -m -f '{{.Version}}' k8s.io/kubernetes)

# A port free on every address (the node listens on the host's address).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    if ! ss -Htaun | awk '{print $5}' | grep -qE "[:.]$p\$"; then
      echo "$p"
      return
    fi
  done
}

data_dir=$(mktemp -d /tmp/skiff-conformance.XXXXXX)
server=""
runner=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$runner" ] && kill -0 "$runner" 2>/dev/null; then
    kill -TERM "$runner" 2>/dev/null || true
    wait "$runner" 2>/dev/null || true
  fi
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  # What the server started and left (a containerd shim, a mount) is found
  # by the data directory, which is ours alone.
  for pid in $(grep -l -F "$data_dir" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [ "$pid" != "$$" ] && kill -KILL "$pid" 2>/dev/null || true
  done
  awk -v d="$data_dir" '$2 ~ "^"d {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
  [ -n "${KEEP_DATA:-}" ] || rm -rf "$data_dir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$results"
mkdir -p "$results"
port=$(free_port)
echo "conformance: skiff server on port $port, data in $data_dir, its log in $results/server.log"
"$skiff" server --data-dir "$data_dir" --port "$port" --unsafe-no-fsync \
  --runtime=cri --node-name conformance --kubelet-port "$(free_port)" --cluster-dns-port "$(free_port)" \
  --pause-image "$images/pause.tar" >"$results/server.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
  grep -qs "skiff server ready" "$results/server.log" && break
  kill -0 "$server" 2>/dev/null || { echo "skiff server exited:" >&2; tail -n 30 "$results/server.log" >&2; exit 1; }
  sleep 0.1
done
export KUBECONFIG=$data_dir/kubeconfig.yaml
"$kubectl" wait --for=condition=Ready node --all --timeout=120s >/dev/null

# The suite's images, built in-repo (make conformance-images), once that
# target exists; until then the tests pull nothing and those needing an
# image fail on it.
if grep -q '^conformance-images:' Makefile; then
  [ -n "${CONFORMANCE_IMAGES:-}" ] || make --no-print-directory conformance-images
  shopt -s nullglob
  tars=("${CONFORMANCE_IMAGES:-$repo/build/conformance-images}"/*.tar)
  shopt -u nullglob
  if [ ${#tars[@]} -gt 0 ]; then
    "$skiff" image load --data-dir "$data_dir" "${tars[@]}" >"$results/images.log"
  fi
else
  echo "conformance: no conformance-images target yet; the suite's images are not loaded"
fi

# run_suite NAME LABEL_FILTER NODES runs one part with Ginkgo; its JUnit
# report is results/junit_NAME_01.xml.
status=0
run_suite() {
  local name=$1 labels=$2 procs=$3
  local args=(--nodes="$procs" --label-filter="$labels" --no-color --timeout="$timeout")
  [ -n "$focus" ] && args+=(--focus="$focus")
  [ -n "$skip" ] && args+=(--skip="$skip")
  echo "conformance: running the $name tests ($procs at a time): log in $results/$name.log"
  "$ginkgo" "${args[@]}" "$e2e_test" -- \
    --kubeconfig="$KUBECONFIG" --provider=skeleton --report-dir="$results" --report-prefix="${name}_" \
    --disable-log-dump >"$results/$name.log" 2>&1 &
  runner=$!
  local rc=0
  wait "$runner" || rc=$?
  runner=""
  grep -E '^(Ran [0-9]+ of|FAIL!|SUCCESS!)' "$results/$name.log" || true
  if [ "$rc" -ne 0 ]; then status=$rc; fi
}
# As the upstream conformance image runs it: what is not [Serial] in
# parallel, then the [Serial] tests alone.
run_suite parallel 'Conformance && !Serial' "$nodes"
run_suite serial 'Conformance && Serial' 1

shopt -s nullglob
reports=("$results"/junit_*.xml)
shopt -u nullglob
if [ ${#reports[@]} -eq 0 ]; then
  echo "conformance: no JUnit report was written; see $results/*.log" >&2
  exit 1
fi
go run ./hack/conformance/report --known hack/conformance/known-causes.yaml --out "$out" \
  --kubernetes "$k8s_version" --skiff "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --focus "$focus" --skip "$skip" --runtime "cri (containerd)" "${reports[@]}"
echo "conformance: $(grep -m1 -F '**' "$out")  ($out)"
exit "$status"
