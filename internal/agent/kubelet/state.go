package kubelet

import (
	"context"
	"fmt"
	"sort"
	"strconv"
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
	cs, err := rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
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

func unixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
