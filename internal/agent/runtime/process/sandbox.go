package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sandbox is a pod: its network and its cgroup.
type sandbox struct {
	id        string
	config    *runtimeapi.PodSandboxConfig
	handler   string
	createdAt int64
	state     runtimeapi.PodSandboxState
	net       *podNetwork // nil: the host network
	ip        string
	cgroup    string        // pod cgroup, relative; "" when cgroups are not used
	mnt       *podNamespace // nil: the host's mount namespace
}

// record is what is kept on disk about a sandbox, so a runtime that starts
// after a crash can remove what the previous one left behind.
type record struct {
	ID        string      `json:"id"`
	Net       *podNetwork `json:"net,omitempty"`
	Cgroup    string      `json:"cgroup,omitempty"`
	Processes []procRef   `json:"processes,omitempty"`
	// ContainerCgroups are the containers' cgroups, relative.
	ContainerCgroups []string `json:"containerCgroups,omitempty"`
}

// procRef names a process by pid and start time, so a reused pid is never
// killed by mistake.
type procRef struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

func (r *Runtime) recordPath(id string) string {
	return filepath.Join(r.cfg.StateDir, "sandboxes", id+".json")
}

// saveRecord writes the record of sandbox s; r.mu must be held.
func (r *Runtime) saveRecordLocked(s *sandbox) {
	rec := record{ID: s.id, Net: s.net, Cgroup: s.cgroup}
	for _, c := range r.containers {
		if c.sandboxID != s.id {
			continue
		}
		if c.cgroup != "" {
			rec.ContainerCgroups = append(rec.ContainerCgroups, c.cgroup)
		}
		if c.pid > 0 && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			rec.Processes = append(rec.Processes, procRef{Pid: c.pid, Start: c.pidStart})
		}
	}
	b, err := json.Marshal(rec)
	if err == nil {
		err = writeFileAtomic(r.recordPath(s.id), b)
	}
	if err != nil {
		r.log.Warn("process runtime: cannot save sandbox state", "sandbox", s.id, "err", err)
	}
}

// cleanupLeftovers removes what sandboxes recorded under StateDir by an
// earlier runtime still hold: their processes, cgroups, veths, namespaces
// and addresses.
func (r *Runtime) cleanupLeftovers(ctx context.Context) {
	files, _ := filepath.Glob(filepath.Join(r.cfg.StateDir, "sandboxes", "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			_ = os.Remove(f)
			continue
		}
		r.log.Info("process runtime: removing a pod left by a previous run", "sandbox", rec.ID)
		for _, p := range rec.Processes {
			if procStart(p.Pid) == p.Start {
				_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
				_ = syscall.Kill(p.Pid, syscall.SIGKILL)
			}
		}
		for _, cg := range rec.ContainerCgroups {
			r.cg.kill(cg, 2*time.Second)
			_ = r.cg.remove(cg)
		}
		if rec.Cgroup != "" {
			r.cg.removeIfEmpty(rec.Cgroup)
		}
		if rec.Net != nil && r.net != nil {
			_ = r.net.teardown(rec.Net)
			_ = r.net.ipam.release(rec.ID)
		} else if rec.Net != nil {
			_ = (&network{}).teardown(rec.Net)
		}
		_ = os.Remove(f)
	}
	// A pod's namespace ended with the runtime that held it: only the
	// empty mount points of its root are left.
	_ = os.RemoveAll(filepath.Join(r.cfg.StateDir, "pods"))
}

// procStart returns the start time (in clock ticks since boot) of pid, or 0.
func procStart(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(s[i+1:])
	// Field 22 of stat is starttime; fields here start at field 3.
	if len(fields) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(fields[19], 10, 64)
	return v
}

// hostNetwork reports whether the sandbox config asks for the node's network.
func hostNetwork(config *runtimeapi.PodSandboxConfig) bool {
	return config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE
}

// RunPodSandbox creates a pod: its network namespace and address (unless
// it uses the host network) and its cgroup.
func (r *Runtime) RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig, runtimeHandler string) (string, error) {
	if config == nil {
		return "", errors.New("run pod sandbox: no config")
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return "", errors.New("run pod sandbox: the process runtime is closed")
	}
	id := newID()
	s := &sandbox{
		id:        id,
		config:    config,
		handler:   runtimeHandler,
		createdAt: r.now().UnixNano(),
		state:     runtimeapi.PodSandboxState_SANDBOX_READY,
		ip:        r.nodeIP,
	}
	if !hostNetwork(config) {
		if r.net == nil {
			r.hostNetOnce.Do(func() {
				r.log.Warn("process runtime: the node has no pod CIDR, pods use the host network")
			})
		} else {
			pn, err := r.net.setup(ctx, id)
			switch {
			case errors.Is(err, errNoPodNetwork):
			case err != nil:
				return "", fmt.Errorf("run pod sandbox %s: %w", podName(config), err)
			default:
				s.net = pn
				s.ip = pn.IP.String()
			}
		}
	}
	if err := r.setupMountNamespace(s); err != nil {
		r.releaseSandbox(s)
		return "", fmt.Errorf("run pod sandbox %s: %w", podName(config), err)
	}
	rel := config.GetLinux().GetCgroupParent()
	if rel == "" {
		rel = "/skiff/pod-" + id
	}
	rel = path.Clean("/" + rel)
	if r.cg.create(rel) {
		s.cgroup = rel
		if res := config.GetLinux().GetResources(); res != nil {
			if err := r.cg.setResources(rel, res); err != nil {
				r.log.Warn("process runtime: cannot set pod resources", "pod", podName(config), "err", err)
			}
		}
	}
	if dir := config.GetLogDirectory(); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			r.releaseSandbox(s)
			return "", fmt.Errorf("run pod sandbox %s: log directory: %w", podName(config), err)
		}
	}
	r.mu.Lock()
	r.sandboxes[id] = s
	r.saveRecordLocked(s)
	r.mu.Unlock()
	return id, nil
}

func podName(config *runtimeapi.PodSandboxConfig) string {
	m := config.GetMetadata()
	return m.GetNamespace() + "/" + m.GetName()
}

// dupMountNSLocked returns a new descriptor of the pod's mount namespace
// (-1 when it has none), which the caller closes; r.mu must be held.
func (s *sandbox) dupMountNSLocked() (int, error) {
	if s.mnt == nil {
		return -1, nil
	}
	fd, err := unix.FcntlInt(s.mnt.file.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open the pod's mount namespace: %w", err)
	}
	return fd, nil
}

// podDir is where the runtime keeps a pod's files (its root directory's
// mount point); the host sees nothing else of the pod's file system.
func (r *Runtime) podDir(id string) string {
	return filepath.Join(r.cfg.StateDir, "pods", id)
}

// setupMountNamespace gives s its mount namespace, with its /etc/hosts
// and /etc/resolv.conf. Where the host does not permit mount namespaces
// the pod uses the host's, which is logged once.
func (r *Runtime) setupMountNamespace(s *sandbox) error {
	root := filepath.Join(r.podDir(s.id), "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("pod directory: %w", err)
	}
	files := planPodFiles(s.config, s.net != nil, s.ip).files()
	ns, err := r.layers.newPodNamespace(root, files)
	switch {
	case err != nil && notPermitted(err):
		r.hostMntOnce.Do(func() {
			r.log.Warn("process runtime: cannot create mount namespaces here, pods see the host's files", "err", err)
		})
		_ = os.RemoveAll(r.podDir(s.id))
		return nil
	case err != nil:
		_ = os.RemoveAll(r.podDir(s.id))
		return fmt.Errorf("mount namespace: %w", err)
	}
	s.mnt = ns
	return nil
}

// releaseSandbox removes the network, the cgroup and the mount namespace
// of s.
func (r *Runtime) releaseSandbox(s *sandbox) error {
	var errs []error
	r.mu.Lock()
	mnt := s.mnt
	s.mnt = nil
	r.mu.Unlock()
	if mnt != nil {
		_ = mnt.file.Close()
	}
	if err := os.RemoveAll(r.podDir(s.id)); err != nil {
		errs = append(errs, fmt.Errorf("remove pod directory: %w", err))
	}
	if s.net != nil && r.net != nil {
		if err := r.net.teardown(s.net); err != nil {
			errs = append(errs, err)
		}
		if err := r.net.ipam.release(s.id); err != nil {
			errs = append(errs, err)
		}
	}
	if s.cgroup != "" {
		r.cg.removeIfEmpty(s.cgroup)
	}
	return errors.Join(errs...)
}

// StopPodSandbox kills the pod's containers and releases its address. It
// is idempotent.
func (r *Runtime) StopPodSandbox(ctx context.Context, podSandboxID string) error {
	r.mu.Lock()
	s, ok := r.sandboxes[podSandboxID]
	if !ok {
		r.mu.Unlock()
		return nil
	}
	ids := r.containerIDsLocked(podSandboxID)
	r.mu.Unlock()

	for _, cid := range ids {
		if err := r.StopContainer(ctx, cid, 0); err != nil {
			return fmt.Errorf("stop pod sandbox: %w", err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.state == runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		return nil
	}
	s.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	if s.net != nil && r.net != nil {
		if err := r.net.releaseLink(s.id, s.net); err != nil {
			return fmt.Errorf("stop pod sandbox: %w", err)
		}
		s.ip = ""
	}
	return nil
}

func (r *Runtime) containerIDsLocked(sandboxID string) []string {
	var ids []string
	for id, c := range r.containers {
		if c.sandboxID == sandboxID {
			ids = append(ids, id)
		}
	}
	return ids
}

// RemovePodSandbox stops the pod, removes its containers, network
// namespace and cgroup. It is idempotent.
func (r *Runtime) RemovePodSandbox(ctx context.Context, podSandboxID string) error {
	if err := r.StopPodSandbox(ctx, podSandboxID); err != nil {
		return err
	}
	r.mu.Lock()
	s, ok := r.sandboxes[podSandboxID]
	if !ok {
		r.mu.Unlock()
		return nil
	}
	ids := r.containerIDsLocked(podSandboxID)
	r.mu.Unlock()
	var errs []error
	for _, cid := range ids {
		if err := r.RemoveContainer(ctx, cid); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.releaseSandbox(s); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove pod sandbox: %w", err)
	}
	r.mu.Lock()
	delete(r.sandboxes, podSandboxID)
	r.mu.Unlock()
	_ = os.Remove(r.recordPath(podSandboxID))
	return nil
}

// PodSandboxStatus returns the state, address and metadata of a pod.
func (r *Runtime) PodSandboxStatus(ctx context.Context, podSandboxID string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[podSandboxID]
	if !ok {
		return nil, notFound("pod sandbox", podSandboxID)
	}
	mode := runtimeapi.NamespaceMode_POD
	if s.net == nil {
		mode = runtimeapi.NamespaceMode_NODE
	}
	st := &runtimeapi.PodSandboxStatus{
		Id:             s.id,
		Metadata:       s.config.GetMetadata(),
		State:          s.state,
		CreatedAt:      s.createdAt,
		Network:        &runtimeapi.PodSandboxNetworkStatus{Ip: s.ip},
		Linux:          &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: &runtimeapi.NamespaceOption{Network: mode}}},
		Labels:         s.config.GetLabels(),
		Annotations:    s.config.GetAnnotations(),
		RuntimeHandler: s.handler,
	}
	resp := &runtimeapi.PodSandboxStatusResponse{Status: st}
	if verbose {
		info := map[string]string{"cgroup": s.cgroup}
		if s.net != nil {
			info["netns"] = s.net.Netns
			info["veth"] = s.net.Veth
		}
		resp.Info = info
	}
	return resp, nil
}

// ListPodSandbox returns the pods that match filter.
func (r *Runtime) ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtimeapi.PodSandbox
	for _, s := range r.sandboxes {
		if filter != nil {
			if filter.Id != "" && filter.Id != s.id {
				continue
			}
			if filter.State != nil && filter.State.State != s.state {
				continue
			}
			if !matchLabels(s.config.GetLabels(), filter.LabelSelector) {
				continue
			}
		}
		out = append(out, &runtimeapi.PodSandbox{
			Id:             s.id,
			Metadata:       s.config.GetMetadata(),
			State:          s.state,
			CreatedAt:      s.createdAt,
			Labels:         s.config.GetLabels(),
			Annotations:    s.config.GetAnnotations(),
			RuntimeHandler: s.handler,
		})
	}
	return out, nil
}
