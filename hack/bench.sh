#!/usr/bin/env bash
# Runs the benchmark scenarios against real skiff server processes and
# rewrites BENCHMARKS.md with the figures, the command and the machine.
# `hack/bench.sh api controlplane` (default: all scenarios; unit times the
# fast test tier, `make unit`).
set -euo pipefail
cd "$(dirname "$0")/.."
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(api rbac controlplane node services netpol multinode autoscale unit)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
machine="$(date -u +%Y-%m-%d), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, ${cpu}, $(go version | cut -d' ' -f3)"
mkdir -p build/bench
declare -A titles=([api]="API server" [rbac]="Authorization: RBAC on vs off" [controlplane]="Scheduler and controllers on hollow nodes" [node]="Pod startup on real runtimes" [services]="Services: data path, cluster DNS, service proxy" [netpol]="NetworkPolicy: rule sync" [multinode]="Pods across nodes" [autoscale]="Autoscaling: the HorizontalPodAutoscaler and metrics collection" [unit]="The unit test tier")
for s in "${scenarios[@]}"; do
  if [ "$s" = unit ]; then
    # Twice: the first run builds what the cache lacks; the second is the
    # time of a run after an edit to a few packages or none.
    make unit >/dev/null
    start=$(date +%s.%N)
    make unit >/dev/null
    end=$(date +%s.%N)
    {
      echo "## ${titles[$s]} ($machine)"
      echo
      echo "\`time make unit\` (\`go test -race -short -count=1 -p 4 ./internal/... ./cmd/...\`), build cache warm"
      echo
      echo "| what | measured | goal |"
      echo "|---|---|---|"
      awk -v s="$start" -v e="$end" 'BEGIN{printf "| make unit wall time | %.0f s | < 120 s |\n", e-s}'
    } > "build/bench/$s.md"
    continue
  fi
  {
    echo "## ${titles[$s]} ($machine)"
    echo
    if [ "$s" = netpol ]; then
      # One node's NetworkPolicy enforcement driven through a real API
      # server (internal/testserver), nft in a network namespace of its own.
      echo "\`go test -tags integration -run '^\$' -bench 'BenchmarkPolicyChangeToKernel\$|BenchmarkCompute\$' -benchtime 300x ./internal/agent/netpol/\`"
      echo
      echo "| what | measured | goal |"
      echo "|---|---|---|"
      go test -tags integration -run '^$' -bench 'BenchmarkPolicyChangeToKernel$|BenchmarkCompute$' -benchtime 300x ./internal/agent/netpol/ |
        awk '/BenchmarkCompute/{printf "| plan alone: 1000 pods, 10 policies | %.1f ms | |\n", $3/1e6}
          /p99-ms/{for(i=1;i<=NF;i++){v[$(i+1)]=$i}
          printf "| 1000 pods on the node in 10 apps, one policy per app; NetworkPolicy update → rules in the kernel, 300 changes | p50 %.1f ms, p99 %.1f ms (nft CPU %.1f ms, Go CPU %.1f ms per change) | p99 < 100 ms |\n", v["p50-ms"], v["p99-ms"], v["nft-cpu-ms/op"], v["go-cpu-ms/op"]
          printf "| first sync of the 1000 pods | %.0f ms | |\n", v["start-sync-ms"]}'
    else
    echo "\`go run ./test/bench --scenario $s --skiff build/bin/skiff\`"
    echo
    echo "| what | measured | goal |"
    echo "|---|---|---|"
    go run ./test/bench --scenario "$s" --skiff build/bin/skiff
    fi
    if [ "$s" = services ]; then
      # The cluster DNS server alone, and one node's service proxy driven
      # through a real API server (internal/testserver), nft in a network
      # namespace of its own.
      go test -run '^$' -bench 'BenchmarkServeUDP$' -benchtime 3s ./internal/dns/ |
        awk '/queries\/s/{for(i=1;i<=NF;i++) if($(i+1)=="queries/s") printf "| cluster DNS (`go test -bench BenchmarkServeUDP ./internal/dns/`): A queries for a service name over UDP, 1000 Services, 32 clients | %.0f queries/s | >= 20000/s |\n", $i}'
      go test -tags integration -run '^$' -bench 'BenchmarkEndpointChangeToKernel$' -benchtime 300x ./internal/agent/proxy/ |
        awk '/p99-ms/{for(i=1;i<=NF;i++){v[$(i+1)]=$i}
          printf "| service proxy (`go test -tags integration -bench BenchmarkEndpointChangeToKernel ./internal/agent/proxy/`): 1000 Services, 10000 endpoints created through the API; EndpointSlice update → rules in the kernel, 300 changes | p50 %.1f ms, p99 %.1f ms (nft CPU %.1f ms per change) | p99 < 100 ms |\n", v["p50-ms"], v["p99-ms"], v["nft-cpu-ms/op"]
          printf "| service proxy: first sync of 1000 Services / full resync in place | %.0f ms / %.0f ms | |\n", v["start-sync-ms"], v["resync-ms"]}'
    fi
    if [ "$s" = autoscale ]; then
      # The agent's stats collector alone: one sample of 100 pods' cgroups
      # (v1 files), what the background sampler and each scrape cost.
      go test -run '^$' -bench 'BenchmarkCollectorSummary100Pods$' -benchtime 500x ./internal/agent/stats/ |
        awk '/%core/{for(i=1;i<=NF;i++){v[$(i+1)]=$i}
          printf "| agent metrics collection (`go test -bench BenchmarkCollectorSummary100Pods ./internal/agent/stats/`): 100 pods, one sample every 10 s plus a scrape every 15 s | %.2f %% of a core (%.1f ms per sample); %.0f KiB kept between samples, %.1f MiB allocated per sample and freed | < 1 %% of a core, < 10 MB |\n", v["%core"], v["ns/op"]/1e6, v["retained-KiB"], v["B/op"]/1048576}'
    fi
    if [ "$s" = controlplane ]; then
      # The scheduler alone (fake clientset, no API server): what it can bind
      # when pod creation is not the limit.
      go test -run '^$' -bench 'BenchmarkSchedulerThroughput$' -benchtime 1x ./internal/scheduler/ |
        awk '/pods\/s/{for(i=1;i<=NF;i++) if($(i+1)=="pods/s") printf "| scheduler alone (`go test -bench BenchmarkSchedulerThroughput ./internal/scheduler/`): 10000 pods, 1000 nodes, fake clientset | %.0f pods bound/s | >= 1000/s |\n", $i}'
    fi
  } > "build/bench/$s.md.new"
  mv "build/bench/$s.md.new" "build/bench/$s.md"
done
# Sections not re-run keep their last figures (from BENCHMARKS.md itself).
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`make bench\` (\`hack/bench.sh\`): each scenario runs \`go run ./test/bench\` against"
  echo "\`build/bin/skiff server\` processes on fresh data dirs, fsync on. Goals are targets, not test assertions."
  for s in api rbac controlplane node services netpol multinode autoscale unit; do
    echo
    if [ -f "build/bench/$s.md" ]; then
      cat "build/bench/$s.md"
    elif [ -f BENCHMARKS.md ]; then
      awk -v t="## ${titles[$s]} " 'index($0,t)==1{p=1;print;next} /^## /{p=0} p' BENCHMARKS.md | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
    fi
  done
} > BENCHMARKS.md.new
mv BENCHMARKS.md.new BENCHMARKS.md
cat BENCHMARKS.md
