package kubelet

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/agent/runtime"
)

// Labels and annotations the kubelet puts on sandboxes and containers.
const (
	labelPodName          = "io.kubernetes.pod.name"
	labelPodNamespace     = "io.kubernetes.pod.namespace"
	labelPodUID           = "io.kubernetes.pod.uid"
	labelContainerName    = "io.kubernetes.container.name"
	annotationRestarts    = "io.kubernetes.container.restartCount"
	annotationTermMsgPath = "io.kubernetes.container.terminationMessagePath"
	annotationHash        = "io.kubernetes.container.hash"
)

// sandboxInfo is one of a pod's sandboxes as the runtime reports it.
type sandboxInfo struct {
	id        string
	ready     bool
	ip        string
	attempt   uint32
	createdAt time.Time
}

// containerInfo is one container instance as the runtime reports it.
type containerInfo struct {
	id         string
	name       string
	sandboxID  string
	attempt    int // the restart count it was created with
	state      runtimeapi.ContainerState
	exitCode   int32
	reason     string
	message    string
	createdAt  time.Time
	startedAt  time.Time
	finishedAt time.Time
	imageRef   string
	logPath    string
	termPath   string
	hash       string
	// resources are what the runtime applied to the instance (nil when
	// it does not say).
	resources *runtimeapi.LinuxContainerResources
}

func (c *containerInfo) running() bool { return c.state == runtimeapi.ContainerState_CONTAINER_RUNNING }
func (c *containerInfo) exited() bool  { return c.state == runtimeapi.ContainerState_CONTAINER_EXITED }

// podState is what the runtime holds for one pod.
type podState struct {
	// sandboxes newest first.
	sandboxes []*sandboxInfo
	// containers by name, newest first.
	containers map[string][]*containerInfo
}

// sandbox is the newest sandbox, or nil.
func (s *podState) sandbox() *sandboxInfo {
	if len(s.sandboxes) == 0 {
		return nil
	}
	return s.sandboxes[0]
}

// latest is the newest instance of a container, or nil.
func (s *podState) latest(name string) *containerInfo {
	if l := s.containers[name]; len(l) > 0 {
		return l[0]
	}
	return nil
}

// all is every container instance.
func (s *podState) all() []*containerInfo {
	var out []*containerInfo
	for _, l := range s.containers {
		out = append(out, l...)
	}
	return out
}

// inspect reads a pod's sandboxes and containers from the runtime.
func inspect(ctx context.Context, rt runtime.Runtime, uid types.UID) (*podState, error) {
	sel := map[string]string{labelPodUID: string(uid)}
	sbs, err := rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	cs, err := rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return buildState(ctx, rt, sbs, cs)
}

// buildState is a pod's state from its listed sandboxes and containers,
// with the status of each (the IP of a ready sandbox, a container's exit
// code and times).
func buildState(ctx context.Context, rt runtime.Runtime, sbs []*runtimeapi.PodSandbox, cs []*runtimeapi.Container) (*podState, error) {
	st := &podState{containers: map[string][]*containerInfo{}}
	for _, sb := range sbs {
		info := &sandboxInfo{id: sb.Id, ready: sb.State == runtimeapi.PodSandboxState_SANDBOX_READY, createdAt: time.Unix(0, sb.CreatedAt)}
		if sb.Metadata != nil {
			info.attempt = sb.Metadata.Attempt
		}
		if info.ready {
			resp, err := rt.PodSandboxStatus(ctx, sb.Id, false)
			if err != nil {
				return nil, fmt.Errorf("sandbox status: %w", err)
			}
			if s := resp.GetStatus(); s != nil {
				info.ready = s.State == runtimeapi.PodSandboxState_SANDBOX_READY
				if s.Network != nil {
					info.ip = s.Network.Ip
				}
			}
		}
		st.sandboxes = append(st.sandboxes, info)
	}
	sort.SliceStable(st.sandboxes, func(i, j int) bool {
		a, b := st.sandboxes[i], st.sandboxes[j]
		if a.attempt != b.attempt {
			return a.attempt > b.attempt
		}
		return a.createdAt.After(b.createdAt)
	})
	for _, c := range cs {
		resp, err := rt.ContainerStatus(ctx, c.Id, false)
		if err != nil {
			// Removed between the list and the status.
			continue
		}
		s := resp.GetStatus()
		if s == nil {
			continue
		}
		info := &containerInfo{
			id:         c.Id,
			name:       c.Labels[labelContainerName],
			sandboxID:  c.PodSandboxId,
			state:      s.State,
			exitCode:   s.ExitCode,
			reason:     s.Reason,
			message:    s.Message,
			createdAt:  unixNano(s.CreatedAt),
			startedAt:  unixNano(s.StartedAt),
			finishedAt: unixNano(s.FinishedAt),
			imageRef:   s.ImageRef,
			logPath:    s.LogPath,
			resources:  s.GetResources().GetLinux(),
		}
		if info.name == "" && s.Metadata != nil {
			info.name = s.Metadata.Name
		}
		ann := s.Annotations
		if ann == nil {
			ann = c.Annotations
		}
		if n, err := strconv.Atoi(ann[annotationRestarts]); err == nil {
			info.attempt = n
		} else if s.Metadata != nil {
			info.attempt = int(s.Metadata.Attempt)
		}
		info.termPath = ann[annotationTermMsgPath]
		info.hash = ann[annotationHash]
		st.containers[info.name] = append(st.containers[info.name], info)
	}
	for _, l := range st.containers {
		sort.SliceStable(l, func(i, j int) bool {
			if l[i].attempt != l[j].attempt {
				return l[i].attempt > l[j].attempt
			}
			return l[i].createdAt.After(l[j].createdAt)
		})
	}
	return st, nil
}

// runtimeCache holds each pod's runtime state as last read: by the relist
// for the pods whose sandboxes or containers changed, and by a pod's sync
// when it needs a state newer than the cached one. Every call through
// podManager.runtimeFor that changes the pod in the runtime invalidates its
// entry when it returns: reads begun before that are stale, and the next
// use reads the runtime again.
type runtimeCache struct {
	mu   sync.Mutex
	gen  uint64 // numbers the reads begun
	pods map[types.UID]*cachedState
}

type cachedState struct {
	state *podState // nil: none current
	gen   uint64    // the read state came from
	min   uint64    // reads numbered below min are stale
}

func newRuntimeCache() *runtimeCache {
	return &runtimeCache{pods: map[types.UID]*cachedState{}}
}

// begin numbers a read of the runtime about to begin.
func (c *runtimeCache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	return c.gen
}

// put stores the state a read numbered gen found, unless a later read is
// stored or the pod changed after the read began.
func (c *runtimeCache) put(uid types.UID, st *podState, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(uid)
	if gen < e.min || (e.state != nil && gen <= e.gen) {
		return
	}
	e.state, e.gen = st, gen
}

// get is the pod's cached state, if it is current.
func (c *runtimeCache) get(uid types.UID) (*podState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.pods[uid]
	if e == nil || e.state == nil || e.gen < e.min {
		return nil, false
	}
	return e.state, true
}

// invalidate records that the pod changed in the runtime: what reads
// begun before now found is stale.
func (c *runtimeCache) invalidate(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(uid)
	e.state, e.min = nil, c.gen+1
}

// entry is the pod's entry, added if it has none; c.mu is held.
func (c *runtimeCache) entry(uid types.UID) *cachedState {
	e := c.pods[uid]
	if e == nil {
		e = &cachedState{}
		c.pods[uid] = e
	}
	return e
}

// prune drops the entries holding nothing that no read begun before gen
// may still fill (the pods that are gone).
func (c *runtimeCache) prune(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for uid, e := range c.pods {
		if e.state == nil && e.min <= gen {
			delete(c.pods, uid)
		}
	}
}

func unixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// instance is the instance of a container with the ID, or nil.
func (s *podState) instance(name, id string) *containerInfo {
	for _, ci := range s.containers[name] {
		if ci.id == id {
			return ci
		}
	}
	return nil
}
