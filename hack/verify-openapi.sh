#!/usr/bin/env bash
# Fails when the committed OpenAPI definitions differ from what
# hack/update-openapi.sh generates now (from go.mod's k8s.io/api and
# kube-openapi): run `make openapi` and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
committed=internal/apiserver/openapi/zz_generated.openapi.go
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./hack/update-openapi.sh "$tmp"
if ! diff -u "$committed" "$tmp/zz_generated.openapi.go" > "$tmp/diff"; then
  echo "$committed is stale: run 'make openapi' and commit it. Difference (committed -> generated):" >&2
  head -n 40 "$tmp/diff" >&2
  exit 1
fi
