#!/usr/bin/env bash
# Starts skiff server with its data under $1, deploys the example model from
# the seed's manifests (examples/ml-model/k8s) and keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir=${1:-$PWD/build/data}
port=${SKIFF_PORT:-6443}
bin=$PWD/build/bin
mkdir -p "$data_dir"
# The server is also a node: --runtime=auto runs pods in containerd when it
# is installed (make deps), else as host processes (SKIFF_RUNTIME overrides).
runtime=${SKIFF_RUNTIME:-auto}
"$bin/skiff" server --data-dir "$data_dir" --port "$port" --runtime="$runtime" --pause-image "$PWD/build/images/pause.tar" &
server=$!
stop() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
trap stop EXIT
# Ctrl-C is how the user ends it: the server stops cleanly and so does this.
trap 'stop; trap - EXIT; exit 0' INT TERM
export KUBECONFIG=$data_dir/kubeconfig.yaml
for _ in $(seq 1 300); do
  if [ -f "$KUBECONFIG" ] && "$bin/kubectl" get --raw /readyz >/dev/null 2>&1; then break; fi
  kill -0 $server 2>/dev/null || { echo "skiff server exited" >&2; exit 1; }
  sleep 0.1
done
k() { echo "+ kubectl $*" >&2; "$bin/kubectl" "$@"; }
k wait --for=condition=Ready node --all --timeout=120s
# The seed's image (gcr.io/my-project/ml-model:v2) cannot be pulled here: the
# deployment runs the in-repo model server instead, from the image loaded
# into the node's containerd, or from the host binary on the process runtime.
if "$bin/skiff" image load --data-dir "$data_dir/agent" build/images/model-server-v1.tar build/images/model-server-v2.tar 2>/dev/null; then
  rewrite() { sed 's#gcr.io/my-project/ml-model:v2#localhost/skiff/model-server:v2#'; }
else
  echo "the node runs the process runtime: the deployment runs $PWD/build/images/bin/model-server-v2 on the host"
  rewrite() { sed -e 's#gcr.io/my-project/ml-model:v2#localhost/skiff/model-server:v2#' \
    -e "s#^\(        image: .*\)\$#\1\n        command: [\"$PWD/build/images/bin/model-server-v2\"]#"; }
fi
k create namespace production --dry-run=client -o yaml | "$bin/kubectl" apply -f -
k create secret generic gcp-credentials --from-literal=project_id=demo -n production --dry-run=client -o yaml | "$bin/kubectl" apply -f -
echo "+ kubectl apply -f examples/ml-model/k8s/ (deployment image: localhost/skiff/model-server:v2)"
"$bin/kubectl" apply -f examples/ml-model/k8s/service.yaml -f examples/ml-model/k8s/hpa.yaml
rewrite < examples/ml-model/k8s/deployment.yaml | "$bin/kubectl" apply -f -
k rollout status deployment/ml-model -n production --timeout=120s
k get deployments,services,hpa -n production
k get pods -n production -o wide
# The Service's LoadBalancer address (the node's, from the built-in
# LoadBalancer) answers on port 80, as a cloud's load balancer would.
lb=""
for _ in $(seq 1 100); do
  lb=$("$bin/kubectl" get svc ml-model-service -n production -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null || true)
  [ -n "$lb" ] && break
  sleep 0.2
done
if [ -n "$lb" ]; then
  echo "+ curl http://$lb/predict?input=hello" >&2
  curl -sS --max-time 5 "http://$lb/predict?input=hello" || true
  echo
fi
echo
echo "skiff server is running; in another shell: export KUBECONFIG=$KUBECONFIG"
echo "Ctrl-C stops it."
wait $server
