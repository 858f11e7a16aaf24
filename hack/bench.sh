#!/usr/bin/env bash
# Runs the API server benchmarks against a real skiff server and rewrites the
# API server section of BENCHMARKS.md with the figures, the command and the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=$(go run ./test/bench --skiff build/bin/skiff)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`make bench\` (\`hack/bench.sh\`, which runs \`go run ./test/bench\` against \`build/bin/skiff server\`"
  echo "on a fresh data dir with fsync on). Goals are targets, not test assertions."
  echo
  echo "## API server ($(date -u +%Y-%m-%d), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, ${cpu}, $(go version | cut -d' ' -f3))"
  echo
  echo "| what | measured | goal |"
  echo "|---|---|---|"
  echo "$rows"
} > BENCHMARKS.md
cat BENCHMARKS.md
