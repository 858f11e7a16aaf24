package process

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/agent/stats"
)

// ListContainerStats reports the running containers' cumulative CPU time and
// memory working set from their cgroups (cpuacct and memory on v1, the
// unified hierarchy on v2). Containers without a cgroup (cgroups not
// usable here) are listed without CPU and memory.
func (r *Runtime) ListContainerStats(ctx context.Context, filter *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	type target struct {
		attrs  *runtimeapi.ContainerAttributes
		cgroup string
	}
	var targets []target
	r.mu.Lock()
	for _, c := range r.containers {
		if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		if filter != nil {
			if filter.Id != "" && filter.Id != c.id {
				continue
			}
			if filter.PodSandboxId != "" && filter.PodSandboxId != c.sandboxID {
				continue
			}
			if !matchLabels(c.config.GetLabels(), filter.LabelSelector) {
				continue
			}
		}
		targets = append(targets, target{
			attrs: &runtimeapi.ContainerAttributes{
				Id: c.id, Metadata: c.config.GetMetadata(), Labels: c.config.GetLabels(), Annotations: c.config.GetAnnotations(),
			},
			cgroup: c.cgroup,
		})
	}
	r.mu.Unlock()

	cg := stats.Cgroups{Root: r.cg.root, V2: r.cg.v2}
	out := make([]*runtimeapi.ContainerStats, 0, len(targets))
	for _, t := range targets {
		st := &runtimeapi.ContainerStats{Attributes: t.attrs}
		if t.cgroup != "" && !r.cg.disabled {
			now := r.now().UnixNano()
			if u, err := cg.Read(t.cgroup); err == nil {
				st.Cpu = &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: u.CPUNanos}}
				st.Memory = &runtimeapi.MemoryUsage{
					Timestamp:       now,
					WorkingSetBytes: &runtimeapi.UInt64Value{Value: u.WorkingSetBytes},
					UsageBytes:      &runtimeapi.UInt64Value{Value: u.MemoryUsage},
				}
			} else {
				r.log.Debug("process runtime: container stats", "container", t.attrs.Id, "err", err)
			}
		}
		out = append(out, st)
	}
	return out, nil
}
