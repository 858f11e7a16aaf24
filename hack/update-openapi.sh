#!/usr/bin/env bash
# Regenerates internal/apiserver/openapi from the k8s.io/api types we serve.
# With an argument, writes zz_generated.openapi.go into that directory instead
# (hack/verify-openapi.sh compares it with the committed file).
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=${1:-internal/apiserver/openapi}
version=$(go list -m -f '{{.Version}}' k8s.io/kube-openapi)
mkdir -p build
GOBIN="$PWD/build/tools" go install "k8s.io/kube-openapi/cmd/openapi-gen@${version}"
: > build/openapi-header.txt
build/tools/openapi-gen \
  --output-dir "$out_dir" \
  --output-pkg skiff.dev/skiff/internal/apiserver/openapi \
  --output-file zz_generated.openapi.go \
  --go-header-file build/openapi-header.txt \
  --report-filename /dev/null \
  k8s.io/api/core/v1 k8s.io/api/apps/v1 k8s.io/api/autoscaling/v1 k8s.io/api/autoscaling/v2 \
  k8s.io/api/batch/v1 k8s.io/api/networking/v1 k8s.io/api/discovery/v1 k8s.io/api/coordination/v1 \
  k8s.io/api/events/v1 k8s.io/api/policy/v1 k8s.io/api/scheduling/v1alpha3 k8s.io/api/scheduling/v1 \
  k8s.io/api/flowcontrol/v1 k8s.io/api/node/v1 \
  k8s.io/api/rbac/v1 k8s.io/api/authorization/v1 k8s.io/api/authentication/v1 k8s.io/api/certificates/v1 \
  k8s.io/api/storage/v1 \
  k8s.io/metrics/pkg/apis/metrics/v1beta1 \
  k8s.io/api/admissionregistration/v1 \
  k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1 \
  k8s.io/kube-aggregator/pkg/apis/apiregistration/v1 \
  k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/runtime k8s.io/apimachinery/pkg/version \
  k8s.io/apimachinery/pkg/util/intstr k8s.io/apimachinery/pkg/api/resource
gofmt -w "$out_dir/zz_generated.openapi.go"
