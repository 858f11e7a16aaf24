package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/agent/nodestatus"
	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/wellknown"
)

// Node condition reasons and messages, worded as the kubelet's (the
// others are in package nodestatus).
const (
	reasonKubeletNotReady  = "KubeletNotReady"
	messageRuntimeStarting = "container runtime is starting"
	messageRuntimeDown     = "container runtime is down"
)

// nodeAgent keeps the Node object and its Lease.
type nodeAgent struct {
	cfg     *Config
	log     *slog.Logger
	machine machine

	// kick asks for a status update now.
	kick chan struct{}

	beat nodestatus.Beat

	mu             sync.Mutex
	rt             runtime.Runtime
	runtimeVersion string
	runtimeErr     error
}

func newNodeAgent(cfg *Config, log *slog.Logger) *nodeAgent {
	return &nodeAgent{
		cfg:     cfg,
		log:     log,
		machine: detectMachine(cfg.DataDir, cfg.FakeGPUs, cfg.MaxPods),
		kick:    make(chan struct{}, 1),
	}
}

// allocatable is what pods may request on the node.
func (n *nodeAgent) allocatable() corev1.ResourceList {
	return n.machine.capacity
}

// setRuntime records the runtime and asks for a status update, which
// turns the node Ready once the runtime answers.
func (n *nodeAgent) setRuntime(rt runtime.Runtime) {
	n.mu.Lock()
	n.rt = rt
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// checkRuntime asks the runtime for its version.
func (n *nodeAgent) checkRuntime(ctx context.Context) {
	n.mu.Lock()
	rt := n.rt
	n.mu.Unlock()
	if rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := rt.Version(ctx, "v1")
	n.mu.Lock()
	defer n.mu.Unlock()
	n.runtimeErr = err
	if err == nil {
		n.runtimeVersion = runtimeVersionString(v.RuntimeName, v.RuntimeVersion)
	}
}

func (n *nodeAgent) labels() map[string]string {
	l := map[string]string{
		corev1.LabelHostname:      n.cfg.NodeName,
		corev1.LabelOSStable:      "linux",
		corev1.LabelArchStable:    goruntime.GOARCH,
		"beta.kubernetes.io/os":   "linux",
		"beta.kubernetes.io/arch": goruntime.GOARCH,
	}
	if n.machine.fakeGPUs {
		l[fakeGPULabel] = "true"
	}
	for k, v := range n.cfg.Labels {
		l[k] = v
	}
	return l
}

// desiredStatus is the node's status at now, keeping from old the
// transition and heartbeat times of unchanged conditions and the fields
// others own.
func (n *nodeAgent) desiredStatus(old *corev1.NodeStatus, now time.Time) corev1.NodeStatus {
	n.mu.Lock()
	rt, version, rtErr := n.rt, n.runtimeVersion, n.runtimeErr
	n.mu.Unlock()
	info := n.machine.info
	info.ContainerRuntimeVersion = version
	st := corev1.NodeStatus{
		Capacity:    n.machine.capacity.DeepCopy(),
		Allocatable: n.machine.capacity.DeepCopy(),
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.cfg.NodeIP},
			{Type: corev1.NodeHostName, Address: n.cfg.NodeName},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(n.cfg.KubeletPort)}},
		NodeInfo:        info,
	}
	if n.cfg.NodeIP == "" {
		st.Addresses = st.Addresses[1:]
	}
	ready := nodestatus.Ready()
	switch {
	case rt == nil || (version == "" && rtErr == nil):
		ready.Status, ready.Reason, ready.Message = corev1.ConditionFalse, reasonKubeletNotReady, messageRuntimeStarting
	case rtErr != nil:
		ready.Status, ready.Reason, ready.Message = corev1.ConditionFalse, reasonKubeletNotReady, messageRuntimeDown
	}
	var oldConds []corev1.NodeCondition
	if old != nil {
		oldConds = old.Conditions
		nodestatus.KeepUnowned(&st, old)
		if info.ContainerRuntimeVersion == "" {
			st.NodeInfo.ContainerRuntimeVersion = old.NodeInfo.ContainerRuntimeVersion
		}
	}
	st.Conditions = nodestatus.Merge(nodestatus.Conditions(ready), oldConds, apiTime(now))
	return st
}

// register creates the Node, or adopts an existing one of the name, and
// renews its Lease.
func (n *nodeAgent) register(ctx context.Context) error {
	for delay := 200 * time.Millisecond; ; delay = min(2*delay, 10*time.Second) {
		err := n.tryRegister(ctx)
		if err == nil {
			n.log.Info("node registered")
			return nil
		}
		n.log.Warn("node registration failed; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return fmt.Errorf("register node %s: %w", n.cfg.NodeName, err)
		case <-n.cfg.Clock.After(delay):
		}
	}
}

// annotations are the Node annotations the agent keeps: the root of its
// local-path volumes, which the local-path provisioner reads.
func (n *nodeAgent) annotations() map[string]string {
	return map[string]string{wellknown.LocalPathRootAnnotation: LocalPathRoot(n.cfg.DataDir)}
}

// LocalPathRoot is the directory holding the local-path volumes of the node
// whose data dir is dataDir.
func LocalPathRoot(dataDir string) string {
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	return filepath.Join(dataDir, wellknown.LocalPathDir)
}

func (n *nodeAgent) tryRegister(ctx context.Context) error {
	now := n.cfg.Clock.Now()
	nodes := n.cfg.Client.CoreV1().Nodes()
	want := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.cfg.NodeName, Labels: n.labels(), Annotations: n.annotations()},
		Spec:       corev1.NodeSpec{Taints: append([]corev1.Taint(nil), n.cfg.Taints...)},
	}
	want.Status = n.desiredStatus(nil, now)
	got, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		got, err = n.adopt(ctx, want, now)
	}
	if err != nil {
		return err
	}
	n.beat.Registered(got, now)
	return n.renewLease(ctx)
}

// adopt takes over an existing Node of our name, as a restarting kubelet
// does: our labels and taints are set, the rest of the spec is kept.
func (n *nodeAgent) adopt(ctx context.Context, want *corev1.Node, now time.Time) (*corev1.Node, error) {
	merge := func(upd *corev1.Node) {
		if upd.Labels == nil {
			upd.Labels = map[string]string{}
		}
		for k, v := range want.Labels {
			upd.Labels[k] = v
		}
		for k, v := range want.Annotations {
			if upd.Annotations == nil {
				upd.Annotations = map[string]string{}
			}
			upd.Annotations[k] = v
		}
		for _, t := range want.Spec.Taints {
			found := false
			for _, o := range upd.Spec.Taints {
				if o.Key == t.Key && o.Effect == t.Effect {
					found = true
				}
			}
			if !found {
				upd.Spec.Taints = append(upd.Spec.Taints, t)
			}
		}
	}
	desired := func(old *corev1.NodeStatus) corev1.NodeStatus { return n.desiredStatus(old, now) }
	return nodestatus.Adopt(ctx, n.cfg.Client.CoreV1().Nodes(), want.Name, merge, desired, apiTime(now))
}

// renewLease renews, or creates, the node's Lease.
func (n *nodeAgent) renewLease(ctx context.Context) error {
	return n.beat.RenewLease(ctx, n.cfg.Client, n.cfg.NodeName, n.cfg.LeaseDuration, n.cfg.Clock.Now())
}

// syncStatus writes the node status when it changed or is due.
func (n *nodeAgent) syncStatus(ctx context.Context) error {
	n.checkRuntime(ctx)
	now := n.cfg.Clock.Now()
	nodes := n.cfg.Client.CoreV1().Nodes()
	cur, err := nodes.Get(ctx, n.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return n.tryRegister(ctx)
	}
	if err != nil {
		return err
	}
	due := n.beat.Due(now, n.cfg.NodeStatusReportFrequency)
	desired := func(old *corev1.NodeStatus) corev1.NodeStatus { return n.desiredStatus(old, now) }
	wrote, err := nodestatus.WriteStatus(ctx, nodes, cur, due, desired, apiTime(now), 3)
	if wrote {
		n.beat.Reported(now)
	}
	return err
}

// heartbeat renews the lease and keeps the status until ctx ends.
func (n *nodeAgent) heartbeat(ctx context.Context) {
	clk := n.cfg.Clock
	lease := clk.NewTicker(n.cfg.LeaseRenewInterval)
	defer lease.Stop()
	status := clk.NewTicker(n.cfg.NodeStatusUpdateFrequency)
	defer status.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lease.C():
			if err := n.renewLease(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("node lease renewal failed", "err", err)
			}
			continue
		case <-status.C():
		case <-n.kick:
		}
		if err := n.syncStatus(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("node status update failed", "err", err)
		}
	}
}

// waitForPodCIDR waits until the node IPAM controller gives the node a pod
// CIDR.
func (n *nodeAgent) waitForPodCIDR(ctx context.Context) (netip.Prefix, error) {
	nodes := n.cfg.Client.CoreV1().Nodes()
	start := n.cfg.Clock.Now()
	lastLog := time.Time{}
	for {
		node, err := nodes.Get(ctx, n.cfg.NodeName, metav1.GetOptions{})
		if err == nil && node.Spec.PodCIDR != "" {
			p, perr := netip.ParsePrefix(node.Spec.PodCIDR)
			if perr != nil {
				return netip.Prefix{}, fmt.Errorf("node pod CIDR %q: %w", node.Spec.PodCIDR, perr)
			}
			return p, nil
		}
		now := n.cfg.Clock.Now()
		if now.Sub(lastLog) >= 10*time.Second {
			lastLog = now
			if err != nil {
				n.log.Info("waiting for the node's pod CIDR", "err", err, "waited", now.Sub(start).Round(time.Second))
			} else {
				n.log.Info("waiting for the node's pod CIDR (assigned by the node IPAM controller)", "waited", now.Sub(start).Round(time.Second))
			}
		}
		select {
		case <-ctx.Done():
			return netip.Prefix{}, ctx.Err()
		case <-n.cfg.Clock.After(500 * time.Millisecond):
		}
	}
}
