#!/usr/bin/env bash
# Prints the -ldflags that stamp the Kubernetes version into skiff and kubectl,
# so `kubectl version` reads like a real client and server.
set -euo pipefail
cd "$(dirname "$0")/.."
kube=$(grep -oE 'KubernetesVersion = "[0-9.]+"' internal/apiserver/server.go | grep -oE '[0-9]+\.[0-9]+\.[0-9]+')
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
tree=clean; [ -z "$(git status --porcelain 2>/dev/null)" ] || tree=dirty
pkg=k8s.io/component-base/version
echo "-X $pkg.gitVersion=v$kube -X $pkg.gitMajor=${kube%%.*} -X $pkg.gitMinor=$(echo "$kube" | cut -d. -f2) -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=$tree -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
