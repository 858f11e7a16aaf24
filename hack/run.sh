#!/usr/bin/env bash
# Starts skiff server with its data under $1, deploys the example model from
# the seed's manifests (examples/ml-model/k8s) and keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir=${1:-$PWD/build/data}
port=${SKIFF_PORT:-6443}
bin=$PWD/build/bin
mkdir -p "$data_dir"
# Until the container runtimes land, the server's own node is simulated
# (--runtime=fake, labelled skiff.dev/simulated): pods go Running without
# processes.
"$bin/skiff" server --data-dir "$data_dir" --port "$port" --runtime=fake &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT INT TERM
export KUBECONFIG=$data_dir/kubeconfig.yaml
for _ in $(seq 1 300); do
  if [ -f "$KUBECONFIG" ] && "$bin/kubectl" get --raw /readyz >/dev/null 2>&1; then break; fi
  kill -0 $server 2>/dev/null || { echo "skiff server exited" >&2; exit 1; }
  sleep 0.1
done
k() { echo "+ kubectl $*"; "$bin/kubectl" "$@"; }
k create namespace production --dry-run=client -o yaml | "$bin/kubectl" apply -f -
k create secret generic gcp-credentials --from-literal=project_id=demo -n production --dry-run=client -o yaml | "$bin/kubectl" apply -f -
k apply -f examples/ml-model/k8s/
k rollout status deployment/ml-model -n production --timeout=120s
k get deployments,services,hpa -n production
k get pods -n production -o wide
echo
echo "skiff server is running; in another shell: export KUBECONFIG=$KUBECONFIG"
echo "Ctrl-C stops it."
wait $server
