#!/usr/bin/env bash
# Fails, listing them, when Go files outside build/ are not gofmt-formatted.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(find . -name '*.go' -not -path './build/*' -not -path './.git/*' -print0 | xargs -0 gofmt -l)
if [ -n "$files" ]; then
  echo "not gofmt-formatted (run gofmt -w on them):" >&2
  echo "$files" >&2
  exit 1
fi
