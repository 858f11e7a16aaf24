package kubelet

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/agent/containerevents"
)

// startContext is what starting any container of a pod needs.
type startContext struct {
	pod           *corev1.Pod // with its IPs in status
	sandbox       *sandboxInfo
	sandboxConfig *runtimeapi.PodSandboxConfig
	paths         map[string]string // volume name → host path
}

// startContainer pulls the image, creates and starts one container, and
// runs its postStart hook. Failures are recorded as the container's
// waiting reason. It returns when to look again and whether it runs.
func (m *podManager) startContainer(ctx context.Context, sc *startContext, state *podState, c *corev1.Container, restartCount int, prev *containerInfo) (time.Duration, bool) {
	pod := sc.pod
	ref := fieldPath(pod, c.Name)
	fk := failKey(pod.UID, c.Name)
	if in, left, _ := m.backOff.waiting(fk); in {
		return left, false
	}
	failed := func(reason string, err error) (time.Duration, bool) {
		msg := err.Error()
		m.setWaiting(pod.UID, c.Name, reason, msg)
		m.event(pod, ref, corev1.EventTypeWarning, "Failed", "Error: "+msg)
		m.backOff.fail(fk, msg)
		_, left, _ := m.backOff.waiting(fk)
		return left, false
	}

	image, after, ok := m.ensureImage(ctx, sc, c)
	if !ok {
		return after, false
	}
	hostIP := m.cfg.NodeIP
	env, err := m.deps.env(ctx, m.cfg.Client, pod, c, pod.Status.PodIP, hostIP, m.servicesFor(pod))
	if err != nil {
		// Fixed by a ConfigMap or Secret appearing: retried at the resync.
		m.setWaiting(pod.UID, c.Name, reasonCreateContainerConfig, err.Error())
		m.event(pod, ref, corev1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return 0, false
	}
	vars := map[string]string{}
	for _, kv := range env {
		vars[kv.Key] = string(kv.Value)
	}
	// The GPUs of the container (after the expansion variables, as the
	// device plugin's are).
	devEnv, devFiles := m.devices.RunOptions(pod.UID, c.Name, m.features.HostDeviceEnv)
	env = append(env, devEnv...)
	mounts, err := m.deps.mounts(pod, c, sc.paths, vars)
	if err != nil {
		m.setWaiting(pod.UID, c.Name, reasonCreateContainerConfig, err.Error())
		m.event(pod, ref, corev1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return 0, false
	}
	// A runtime on the host's file system (the process runtime) would
	// create /dev/termination-log in the host's /dev: no mount there.
	if c.TerminationMessagePath != "" && !m.features.HostFilesystem {
		hostPath := m.termPath(pod.UID, c.Name, restartCount)
		if err := os.MkdirAll(filepath.Dir(hostPath), 0o750); err == nil {
			if f, err := os.OpenFile(hostPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o666); err == nil {
				_ = f.Close()
				_ = os.Chmod(hostPath, 0o666)
				mounts = append(mounts, &runtimeapi.Mount{ContainerPath: c.TerminationMessagePath, HostPath: hostPath})
			}
		}
	}
	expand := func(in []string) []string {
		if in == nil {
			return nil
		}
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = m.deps.expand(s, vars)
		}
		return out
	}
	user, err := m.imageUser(ctx, image)
	var security *runtimeapi.LinuxContainerSecurityContext
	if err == nil {
		security, err = containerSecurityContext(pod, c, user, m.seccompRoot())
	}
	if err != nil {
		m.setWaiting(pod.UID, c.Name, reasonCreateContainerConfig, err.Error())
		m.event(pod, ref, corev1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return 0, false
	}
	logPath := fmt.Sprintf("%s/%d.log", c.Name, restartCount)
	_ = os.MkdirAll(filepath.Join(sc.sandboxConfig.LogDirectory, c.Name), 0o750)
	cfg := &runtimeapi.ContainerConfig{
		Metadata:   &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: uint32(restartCount)},
		Image:      &runtimeapi.ImageSpec{Image: image, UserSpecifiedImage: c.Image},
		Command:    expand(c.Command),
		Args:       expand(c.Args),
		WorkingDir: c.WorkingDir,
		Envs:       env,
		Mounts:     mounts,
		Devices:    devFiles,
		Labels: map[string]string{
			labelPodName: pod.Name, labelPodNamespace: pod.Namespace, labelPodUID: string(pod.UID), labelContainerName: c.Name,
		},
		Annotations: map[string]string{
			annotationRestarts:    strconv.Itoa(restartCount),
			annotationTermMsgPath: c.TerminationMessagePath,
			annotationHash:        containerHash(c),
		},
		LogPath:   logPath,
		Stdin:     c.Stdin,
		StdinOnce: c.StdinOnce,
		Tty:       c.TTY,
		Linux:     &runtimeapi.LinuxContainerConfig{Resources: containerResources(c), SecurityContext: security},
	}
	rt := m.runtimeFor(pod.UID)
	id, err := rt.CreateContainer(ctx, sc.sandbox.id, cfg, sc.sandboxConfig)
	if err != nil {
		return failed(reasonCreateContainer, err)
	}
	m.event(pod, ref, corev1.EventTypeNormal, containerevents.ReasonCreated, containerevents.Created)
	if err := rt.StartContainer(ctx, id); err != nil {
		_ = rt.RemoveContainer(ctx, id)
		return failed(reasonRunContainer, err)
	}
	m.event(pod, ref, corev1.EventTypeNormal, containerevents.ReasonStarted, containerevents.Started)
	m.setWaiting(pod.UID, c.Name, "", "")
	m.backOff.forget(fk)
	m.prune(ctx, pod.UID, state, c.Name, id, prev)

	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		if msg, err := m.runHook(ctx, pod, c, id, c.Lifecycle.PostStart, time.Duration(gracePeriod(pod, false))*time.Second); err != nil {
			m.event(pod, ref, corev1.EventTypeWarning, "FailedPostStartHook", msg)
			ci := &containerInfo{id: id, name: c.Name, state: runtimeapi.ContainerState_CONTAINER_RUNNING}
			m.killContainer(ctx, pod, c, ci, gracePeriod(pod, false), false, false)
			m.setWaiting(pod.UID, c.Name, reasonPostStartHook, msg)
			return 0, false
		}
	}
	return 0, true
}

// prune removes the instances of a container older than the previous
// one (kept for `logs --previous`). state is the pod's state before
// current started.
func (m *podManager) prune(ctx context.Context, uid types.UID, state *podState, name, current string, prev *containerInfo) {
	for _, ci := range state.containers[name] {
		if ci.id == current || (prev != nil && ci.id == prev.id) || ci.running() {
			continue
		}
		err := m.runtimeFor(uid).RemoveContainer(ctx, ci.id)
		if err != nil {
			m.log.Warn("removing an old container", "id", ci.id, "err", err)
		}
		m.notes.forget(ci.id)
	}
}

// containerHash identifies the parts of a container's spec that can change
// while the pod runs (the image): a running container whose hash differs
// from its spec's is restarted.
func containerHash(c *corev1.Container) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(c.Image))
	return strconv.FormatUint(uint64(h.Sum32()), 16)
}

// pullPolicy is the container's image pull policy, defaulted as the API
// server does: Always for :latest or no tag, else IfNotPresent.
func pullPolicy(c *corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	image := c.Image
	if i := strings.Index(image, "@"); i >= 0 {
		return corev1.PullIfNotPresent
	}
	last := image[strings.LastIndex(image, "/")+1:]
	tag := ""
	if i := strings.LastIndex(last, ":"); i >= 0 {
		tag = last[i+1:]
	}
	if tag == "" || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// ensureImage makes the container's image present per its pull policy.
// It returns the image to create the container from, or, when the image
// is not there, when to look again.
func (m *podManager) ensureImage(ctx context.Context, sc *startContext, c *corev1.Container) (string, time.Duration, bool) {
	pod := sc.pod
	ref := fieldPath(pod, c.Name)
	spec := &runtimeapi.ImageSpec{Image: c.Image, UserSpecifiedImage: c.Image}
	policy := pullPolicy(c)
	present := ""
	if st, err := m.rt.ImageStatus(ctx, spec, false); err == nil && st.GetImage().GetSize() > 0 {
		present = st.GetImage().Id
		if present == "" {
			present = c.Image
		}
	}
	switch {
	case policy == corev1.PullNever && present == "":
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		m.setWaiting(pod.UID, c.Name, reasonErrImageNeverPull, msg)
		m.event(pod, ref, corev1.EventTypeWarning, reasonErrImageNeverPull, msg)
		return "", 0, false
	case present != "" && policy != corev1.PullAlways:
		m.event(pod, ref, corev1.EventTypeNormal, containerevents.ReasonPulled, containerevents.Present(c.Image))
		return present, 0, true
	}
	key := pullKey(pod.UID, c.Image)
	if in, left, msg := m.backOff.waiting(key); in {
		m.setWaiting(pod.UID, c.Name, reasonImagePullBackOff, fmt.Sprintf("Back-off pulling image %q: %s: %s", c.Image, reasonErrImagePull, msg))
		m.event(pod, ref, corev1.EventTypeNormal, "BackOff", fmt.Sprintf("Back-off pulling image %q", c.Image))
		return "", left, false
	}
	m.event(pod, ref, corev1.EventTypeNormal, containerevents.ReasonPulling, containerevents.Pulling(c.Image))
	start := m.cfg.Clock.Now()
	imageRef, err := m.rt.PullImage(ctx, spec, nil, sc.sandboxConfig)
	if err != nil {
		msg := err.Error()
		m.backOff.fail(key, msg)
		m.setWaiting(pod.UID, c.Name, reasonErrImagePull, msg)
		m.event(pod, ref, corev1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %s", c.Image, msg))
		m.event(pod, ref, corev1.EventTypeWarning, "Failed", "Error: "+reasonErrImagePull)
		_, left, _ := m.backOff.waiting(key)
		return "", left, false
	}
	m.backOff.forget(key)
	took := m.cfg.Clock.Since(start).Round(time.Millisecond)
	var size uint64
	if st, err := m.rt.ImageStatus(ctx, spec, false); err == nil {
		size = st.GetImage().GetSize()
	}
	m.event(pod, ref, corev1.EventTypeNormal, containerevents.ReasonPulled, containerevents.Pulled(c.Image, took, size))
	if imageRef == "" {
		imageRef = c.Image
	}
	return imageRef, 0, true
}

// imageUser is who the image runs as, as the runtime reports it.
func (m *podManager) imageUser(ctx context.Context, image string) (imageUser, error) {
	st, err := m.rt.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: image}, false)
	if err != nil {
		return imageUser{}, fmt.Errorf("image %s: %w", image, err)
	}
	return imageUserOf(st.GetImage()), nil
}

// seccompRoot is where localhost seccomp profiles are, as the kubelet's
// <root-dir>/seccomp.
func (m *podManager) seccompRoot() string {
	return filepath.Join(m.cfg.DataDir, "kubelet", "seccomp")
}

// killContainer stops one container instance: its preStop hook when asked,
// then StopContainer with what is left of grace seconds.
func (m *podManager) killContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, ci *containerInfo, grace int64, preStop, announce bool) {
	ref := fieldPath(pod, c.Name)
	start := m.cfg.Clock.Now()
	if preStop && c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if msg, err := m.runHook(ctx, pod, c, ci.id, c.Lifecycle.PreStop, time.Duration(grace)*time.Second); err != nil {
			m.event(pod, ref, corev1.EventTypeWarning, "FailedPreStopHook", msg)
		}
		grace -= int64(m.cfg.Clock.Since(start) / time.Second)
	}
	grace = max(grace, minGracePeriod)
	if announce {
		m.event(pod, ref, corev1.EventTypeNormal, containerevents.ReasonKilling, containerevents.Killing(c.Name))
	}
	err := m.runtimeFor(pod.UID).StopContainer(ctx, ci.id, grace)
	if err != nil {
		m.log.Warn("stopping container", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "err", err)
	}
}

// runHook runs a lifecycle hook (exec, httpGet or sleep) within timeout.
func (m *podManager) runHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, h *corev1.LifecycleHandler, timeout time.Duration) (string, error) {
	if timeout <= 0 {
		timeout = minGracePeriod * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.Exec != nil:
		stdout, stderr, err := m.rt.ExecSync(ctx, id, h.Exec.Command, timeout)
		if err != nil {
			out := strings.TrimSpace(string(stdout) + string(stderr))
			return fmt.Sprintf("Exec lifecycle hook (%v) for Container %q in Pod %q failed - error: %v, message: %q",
				h.Exec.Command, c.Name, pod.Name+"_"+pod.Namespace+"("+string(pod.UID)+")", err, out), err
		}
		return "", nil
	case h.HTTPGet != nil:
		if err := m.httpHook(ctx, pod, c, h.HTTPGet); err != nil {
			return fmt.Sprintf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %v",
				h.HTTPGet.Path, c.Name, pod.Name+"_"+pod.Namespace+"("+string(pod.UID)+")", err), err
		}
		return "", nil
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-m.cfg.Clock.After(time.Duration(h.Sleep.Seconds) * time.Second):
		}
		return "", nil
	}
	return "", nil
}

func (m *podManager) httpHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, g *corev1.HTTPGetAction) error {
	host := g.Host
	if host == "" {
		host = pod.Status.PodIP
	}
	port, err := resolvePort(g.Port.String(), c)
	if err != nil {
		return err
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+path, nil)
	if err != nil {
		return err
	}
	for _, h := range g.HTTPHeaders {
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP status code %d", resp.StatusCode)
	}
	return nil
}

// resolvePort is a port number, or the number of a named container port.
func resolvePort(p string, c *corev1.Container) (int, error) {
	if n, err := strconv.Atoi(p); err == nil {
		return n, nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("couldn't find port: %s in container %s", p, c.Name)
}

// termPath is the host file mounted at a container instance's
// terminationMessagePath.
func (m *podManager) termPath(uid types.UID, name string, restartCount int) string {
	return filepath.Join(m.cfg.DataDir, "pods", string(uid), "containers", name, strconv.Itoa(restartCount)+"-termination-log")
}

const (
	maxTermMessage  = 4096
	maxLogTailBytes = 2048
	maxLogTailLines = 80
)

// termMessage is a terminated instance's message: its termination
// message file, or with FallbackToLogsOnError after a failure the tail of
// its log.
func (m *podManager) termMessage(pod *corev1.Pod, c *corev1.Container, ci *containerInfo) string {
	msg, ok := m.notes.message(ci.id)
	if ok {
		return msg
	}
	if b, err := readLimited(m.termPath(pod.UID, c.Name, ci.attempt), maxTermMessage); err == nil {
		msg = string(b)
	}
	if msg == "" && c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && ci.exitCode != 0 {
		msg = logTail(m.logPath(pod, ci), maxLogTailLines, maxLogTailBytes)
	}
	m.notes.setMessage(ci.id, msg)
	return msg
}

func readLimited(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// logTail is the content of the last lines of a CRI log file, at most
// maxBytes.
func logTail(path string, lines, maxBytes int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var out []string
	s := bufio.NewScanner(bytes.NewReader(b))
	s.Buffer(make([]byte, 64<<10), 1<<20)
	partial := false
	for s.Scan() {
		// 2006-01-02T15:04:05.999999999Z07:00 stdout F text
		f := strings.SplitN(s.Text(), " ", 4)
		if len(f) < 3 {
			continue
		}
		text := ""
		if len(f) == 4 {
			text = f[3]
		}
		if partial && len(out) > 0 {
			out[len(out)-1] += text
		} else {
			out = append(out, text)
		}
		partial = f[2] == "P"
	}
	if len(out) > lines {
		out = out[len(out)-lines:]
	}
	res := strings.Join(out, "\n")
	if len(out) > 0 {
		res += "\n"
	}
	if len(res) > maxBytes {
		res = res[len(res)-maxBytes:]
	}
	return res
}
