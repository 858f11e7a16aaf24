package hollow

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	goruntime "runtime"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"

	"skiff.dev/skiff/internal/agent/nodestatus"
	"skiff.dev/skiff/internal/wellknown"
)

// node is one hollow node: its fixed identity and its running state.
type node struct {
	name  string
	index int
	ip    string
	port  int // of the stats server; set before the node starts

	beat nodestatus.Beat
	// recorder records the node's pod events (source kubelet, host the
	// node); set by Run before any pod is synced.
	recorder record.EventRecorder

	mu         sync.Mutex
	cidr       netip.Prefix
	alloc      *ipAllocator
	bootID     string
	cancel     context.CancelFunc // stops the heartbeats; nil when stopped
	registered bool
	started    time.Time  // first registration, the node's start time in its stats
	cpu        cpuCounter // the node's CPU time: its pods' rates summed
}

// active reports whether the node is registered and beating.
func (n *node) active() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.registered && n.cancel != nil
}

func (n *node) allocator() *ipAllocator {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.alloc
}

// HollowLocalPathRoot is the local-path root a simulated node publishes.
func HollowLocalPathRoot(node string) string {
	return "/var/lib/skiff-hollow/" + node + "/" + wellknown.LocalPathDir
}

// desiredNode is the Node the hollow node registers.
func (c *Cluster) desiredNode(n *node, now time.Time) *corev1.Node {
	labels := map[string]string{
		corev1.LabelHostname:      n.name,
		corev1.LabelOSStable:      "linux",
		corev1.LabelArchStable:    goruntime.GOARCH,
		"beta.kubernetes.io/os":   "linux",
		"beta.kubernetes.io/arch": goruntime.GOARCH,
		SimulatedKey:              "true",
	}
	for k, v := range c.opts.Labels {
		labels[k] = v
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   n.name,
			Labels: labels,
			// A local-path root, so that claims of the default class are
			// provisioned on simulated nodes too (nothing is written there).
			Annotations: map[string]string{SimulatedKey: "true", wellknown.LocalPathRootAnnotation: HollowLocalPathRoot(n.name)},
		},
		Spec: corev1.NodeSpec{
			Taints: append([]corev1.Taint(nil), c.opts.Taints...),
		},
	}
	if !c.opts.WaitForPodCIDR {
		cidr := nodeCIDR(c.opts.ClusterCIDR, c.opts.NodeCIDRMaskSize, n.index).String()
		node.Spec.PodCIDR, node.Spec.PodCIDRs = cidr, []string{cidr}
	}
	node.Status = c.desiredStatus(n, nil, now)
	return node
}

// desiredStatus is the node's status at now, keeping from old the
// transition times of unchanged conditions.
func (c *Cluster) desiredStatus(n *node, old *corev1.NodeStatus, now time.Time) corev1.NodeStatus {
	n.mu.Lock()
	bootID := n.bootID
	n.mu.Unlock()
	st := corev1.NodeStatus{
		Capacity:    c.opts.Capacity.DeepCopy(),
		Allocatable: c.opts.Capacity.DeepCopy(),
		Phase:       "",
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.ip},
			{Type: corev1.NodeHostName, Address: n.name},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(n.port)}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               fmt.Sprintf("hollow-%08x", n.index),
			SystemUUID:              fmt.Sprintf("00000000-0000-4000-8000-%012x", n.index),
			BootID:                  bootID,
			KernelVersion:           simulatedKernel,
			OSImage:                 simulatedOSImage,
			ContainerRuntimeVersion: simulatedContainerRuntime,
			KubeletVersion:          kubeletVersionForHollow,
			OperatingSystem:         "linux",
			Architecture:            goruntime.GOARCH,
		},
	}
	var oldConds []corev1.NodeCondition
	if old != nil {
		oldConds = old.Conditions
		// Fields the hollow node does not own stay as they are.
		nodestatus.KeepUnowned(&st, old)
		st.DeclaredFeatures = old.DeclaredFeatures
	}
	// Conditions others report (NetworkUnavailable...) are kept.
	st.Conditions = nodestatus.Merge(nodestatus.Conditions(nodestatus.Ready()), oldConds, apiTime(now))
	return st
}

// register creates the node (or adopts an existing one of that name) and
// its lease, and sets up the pod address allocator.
func (c *Cluster) register(ctx context.Context, n *node) error {
	now := c.opts.Clock.Now()
	n.mu.Lock()
	if n.bootID == "" {
		n.bootID = fmt.Sprintf("%08x-0000-4000-8000-%012x", rand.Uint32(), n.index)
	}
	if n.started.IsZero() {
		n.started = now
		n.cpu.at = now
	}
	n.mu.Unlock()
	want := c.desiredNode(n, now)
	nodes := c.client.CoreV1().Nodes()
	got, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		got, err = c.adopt(ctx, want, now)
	}
	if err != nil {
		return fmt.Errorf("register node %s: %w", n.name, err)
	}
	n.beat.Registered(got, now)
	c.takePodCIDR(n, got)
	if err := c.renewLease(ctx, n); err != nil {
		return err
	}
	return nil
}

// takePodCIDR sets up the node's pod address allocator over the pod CIDR of
// its Node object. Without one, the node uses its own share of ClusterCIDR,
// unless it waits for the node IPAM controller (WaitForPodCIDR). It reports
// whether the allocator changed.
func (c *Cluster) takePodCIDR(n *node, obj *corev1.Node) bool {
	cidr, err := netip.ParsePrefix(obj.Spec.PodCIDR)
	if err != nil {
		if c.opts.WaitForPodCIDR {
			return false
		}
		cidr = nodeCIDR(c.opts.ClusterCIDR, c.opts.NodeCIDRMaskSize, n.index)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.alloc != nil && n.cidr == cidr {
		return false
	}
	n.cidr, n.alloc = cidr, newIPAllocator(cidr)
	return true
}

// adopt takes over an existing Node of the hollow node's name, as the
// kubelet does when it restarts: labels, annotations and status are set,
// the pod CIDR another controller assigned is kept.
func (c *Cluster) adopt(ctx context.Context, want *corev1.Node, now time.Time) (*corev1.Node, error) {
	merge := func(upd *corev1.Node) {
		if upd.Labels == nil {
			upd.Labels = map[string]string{}
		}
		for k, v := range want.Labels {
			upd.Labels[k] = v
		}
		if upd.Annotations == nil {
			upd.Annotations = map[string]string{}
		}
		upd.Annotations[SimulatedKey] = "true"
		upd.Annotations[wellknown.LocalPathRootAnnotation] = want.Annotations[wellknown.LocalPathRootAnnotation]
		if upd.Spec.PodCIDR == "" && want.Spec.PodCIDR != "" {
			upd.Spec.PodCIDR, upd.Spec.PodCIDRs = want.Spec.PodCIDR, want.Spec.PodCIDRs
		}
	}
	desired := func(old *corev1.NodeStatus) corev1.NodeStatus { return c.desiredStatus(c.nodes[want.Name], old, now) }
	return nodestatus.Adopt(ctx, c.client.CoreV1().Nodes(), want.Name, merge, desired, apiTime(now))
}

// renewLease renews (or creates) the node's Lease in kube-node-lease.
func (c *Cluster) renewLease(ctx context.Context, n *node) error {
	return n.beat.RenewLease(ctx, c.client, n.name, c.opts.LeaseDuration, c.opts.Clock.Now())
}

// syncStatus writes the node's status when it differs from the server's
// copy, or when the last report is older than NodeStatusReportFrequency.
func (c *Cluster) syncStatus(ctx context.Context, n *node) error {
	now := c.opts.Clock.Now()
	cur, err := c.nodeLister.Get(n.name)
	if apierrors.IsNotFound(err) {
		// Deleted behind our back: register again.
		cur, err = c.client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return c.register(ctx, n)
		}
	}
	if err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	due := n.beat.Due(now, c.opts.NodeStatusReportFrequency)
	desired := func(old *corev1.NodeStatus) corev1.NodeStatus { return c.desiredStatus(n, old, now) }
	wrote, err := nodestatus.WriteStatus(ctx, c.client.CoreV1().Nodes(), cur, due, desired, apiTime(now), 2)
	if wrote {
		n.beat.Reported(now)
	}
	return err
}

// beat runs one node: registration (retried), then lease renewals and
// status checks until ctx ends.
func (c *Cluster) beat(ctx context.Context, n *node) {
	log := c.opts.Logger.With("node", n.name)
	clk := c.opts.Clock
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 10*time.Second) {
		err := c.register(ctx, n)
		if err == nil {
			break
		}
		log.Warn("hollow node registration failed", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-clk.After(delay):
		}
	}
	n.mu.Lock()
	first := !n.registered
	n.registered = true
	n.mu.Unlock()
	if first {
		c.registeredOne()
	}
	c.enqueueNodePods(n.name)

	// Spread the nodes' beats over the interval.
	select {
	case <-ctx.Done():
		return
	case <-clk.After(time.Duration(rand.Int64N(int64(c.opts.LeaseRenewInterval)))):
	}
	lease := clk.NewTicker(c.opts.LeaseRenewInterval)
	defer lease.Stop()
	status := clk.NewTicker(c.opts.NodeStatusUpdateFrequency)
	defer status.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lease.C():
			if err := c.renewLease(ctx, n); err != nil && ctx.Err() == nil {
				log.Warn("hollow node lease renewal failed", "err", err)
			}
		case <-status.C():
			if err := c.syncStatus(ctx, n); err != nil && ctx.Err() == nil {
				log.Warn("hollow node status update failed", "err", err)
			}
		}
	}
}
