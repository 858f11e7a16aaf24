//go:build integration

package hollow_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/agent/hollow"
	"skiff.dev/skiff/internal/testserver"
	"skiff.dev/skiff/internal/wellknown"
)

// poll waits for check to pass (see testserver.Poll).
var poll = testserver.Poll

func startCluster(t *testing.T, client kubernetes.Interface, opts hollow.Options) *hollow.Cluster {
	t.Helper()
	c, err := hollow.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hollow cluster: %v", err)
		}
	})
	return c
}

func podCondition(p *corev1.Pod, typ corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == typ {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func boundPod(name, nodeName string, policy corev1.RestartPolicy) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:      nodeName,
			RestartPolicy: policy,
			Containers:    []corev1.Container{{Name: "app", Image: "registry.example/app:v1"}},
		},
	}
}

func TestHollowNodesAgainstAPIServer(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	cs := s.Client
	c := startCluster(t, cs, hollow.Options{
		Count:                     3,
		Capacity:                  corev1.ResourceList{wellknown.GPUResource: *resourceQuantity("2")},
		LeaseRenewInterval:        500 * time.Millisecond,
		NodeStatusUpdateFrequency: 500 * time.Millisecond,
		ContainerRunTime:          500 * time.Millisecond,
	})
	select {
	case <-c.Registered():
	case <-time.After(30 * time.Second):
		t.Fatal("nodes did not register")
	}

	t.Run("nodes register Ready with a lease", func(t *testing.T) {
		for _, name := range c.Names() {
			n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if n.Labels[hollow.SimulatedKey] != "true" || n.Annotations[hollow.SimulatedKey] != "true" {
				t.Errorf("node %s not marked simulated: %v %v", name, n.Labels, n.Annotations)
			}
			var ready *corev1.NodeCondition
			for i := range n.Status.Conditions {
				if n.Status.Conditions[i].Type == corev1.NodeReady {
					ready = &n.Status.Conditions[i]
				}
			}
			if ready == nil || ready.Status != corev1.ConditionTrue || ready.Reason != "KubeletReady" || ready.Message != "kubelet is posting ready status" {
				t.Errorf("node %s Ready condition %+v", name, ready)
			}
			if q := n.Status.Allocatable[wellknown.GPUResource]; q.String() != "2" {
				t.Errorf("node %s gpus %s", name, q.String())
			}
			if n.Spec.PodCIDR == "" {
				t.Errorf("node %s has no pod CIDR", name)
			}
			l, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != name || *l.Spec.LeaseDurationSeconds != 40 ||
				len(l.OwnerReferences) != 1 || l.OwnerReferences[0].UID != n.UID {
				t.Errorf("lease %s: %+v %+v", name, l.Spec, l.OwnerReferences)
			}
			first := l.Spec.RenewTime.Time
			poll(t, 10*time.Second, "lease renewal", func() error {
				l, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if !l.Spec.RenewTime.After(first) {
					return fmt.Errorf("renewTime still %v", first)
				}
				return nil
			})
		}
	})

	t.Run("pod goes Running, then Ready after the readiness delay", func(t *testing.T) {
		node, err := cs.CoreV1().Nodes().Get(ctx, "hollow-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cidr := netip.MustParsePrefix(node.Spec.PodCIDR)
		p := boundPod("web", "hollow-1", corev1.RestartPolicyAlways)
		p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8080)}},
			InitialDelaySeconds: 2,
		}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sawUnready := false
		poll(t, 15*time.Second, "pod Ready", func() error {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("phase %q", p.Status.Phase)
			}
			ready := podCondition(p, corev1.PodReady)
			if ready == nil || ready.Status != corev1.ConditionTrue {
				sawUnready = true
				return fmt.Errorf("ready %+v", ready)
			}
			ip, err := netip.ParseAddr(p.Status.PodIP)
			if err != nil || !cidr.Contains(ip) {
				t.Errorf("pod IP %q not in node CIDR %s", p.Status.PodIP, cidr)
			}
			if p.Status.HostIP == "" || p.Status.StartTime == nil {
				t.Errorf("hostIP %q startTime %v", p.Status.HostIP, p.Status.StartTime)
			}
			cs := p.Status.ContainerStatuses
			if len(cs) != 1 || cs[0].State.Running == nil || !cs[0].Ready || cs[0].ContainerID == "" {
				t.Errorf("container statuses %+v", cs)
			} else if d := ready.LastTransitionTime.Sub(cs[0].State.Running.StartedAt.Time); d < time.Second {
				t.Errorf("ready %s after the start, want about 2s", d)
			}
			for _, typ := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodScheduled} {
				if c := podCondition(p, typ); c == nil || c.Status != corev1.ConditionTrue {
					t.Errorf("condition %s: %+v", typ, c)
				}
			}
			return nil
		})
		if !sawUnready {
			t.Errorf("pod was never seen Running and unready")
		}
	})

	t.Run("restartPolicy Never: Succeeded, or Failed with the annotated exit code", func(t *testing.T) {
		ok := boundPod("job-ok", "hollow-2", corev1.RestartPolicyNever)
		bad := boundPod("job-bad", "hollow-2", corev1.RestartPolicyNever)
		bad.Annotations = map[string]string{hollow.ExitCodeAnnotation: "3"}
		for _, p := range []*corev1.Pod{ok, bad} {
			if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range []struct {
			name   string
			phase  corev1.PodPhase
			code   int32
			reason string
		}{{"job-ok", corev1.PodSucceeded, 0, "Completed"}, {"job-bad", corev1.PodFailed, 3, "Error"}} {
			poll(t, 15*time.Second, want.name+" "+string(want.phase), func() error {
				p, err := cs.CoreV1().Pods("default").Get(ctx, want.name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if p.Status.Phase != want.phase {
					return fmt.Errorf("phase %q", p.Status.Phase)
				}
				term := p.Status.ContainerStatuses[0].State.Terminated
				if term == nil || term.ExitCode != want.code || term.Reason != want.reason {
					t.Errorf("%s terminated state %+v", want.name, term)
				}
				return nil
			})
		}
	})

	t.Run("a resize is applied at once", func(t *testing.T) {
		p := boundPod("resized", "hollow-1", corev1.RestartPolicyAlways)
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: *resourceQuantity("100m")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: *resourceQuantity("100m")},
		}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		resized := func(cpu string) func() error {
			return func() error {
				got, err := cs.CoreV1().Pods("default").Get(ctx, "resized", metav1.GetOptions{})
				if err != nil {
					return err
				}
				if got.Status.ObservedGeneration != got.Generation || len(got.Status.ContainerStatuses) != 1 {
					return fmt.Errorf("observedGeneration %d of %d", got.Status.ObservedGeneration, got.Generation)
				}
				st := got.Status.ContainerStatuses[0]
				if st.State.Running == nil || st.Resources == nil || st.Resources.Limits.Cpu().String() != cpu || st.AllocatedResources.Cpu().String() != cpu {
					return fmt.Errorf("state %+v resources %v allocated %v", st.State, st.Resources, st.AllocatedResources)
				}
				return nil
			}
		}
		poll(t, 15*time.Second, "pod running with its resources", resized("100m"))
		patch := []byte(`{"spec":{"containers":[{"name":"app","resources":{"requests":{"cpu":"200m"},"limits":{"cpu":"200m"}}}]}}`)
		if _, err := cs.CoreV1().Pods("default").Patch(ctx, "resized", types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "resize"); err != nil {
			t.Fatalf("resize: %v", err)
		}
		poll(t, 15*time.Second, "pod resized", resized("200m"))
	})

	t.Run("init containers that exited 0 are ready; the kubelet's container events", func(t *testing.T) {
		p := boundPod("with-init", "hollow-2", corev1.RestartPolicyAlways)
		p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "registry.example/setup:v1"}}
		created, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		poll(t, 15*time.Second, "pod Running", func() error {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "with-init", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.Phase != corev1.PodRunning || len(p.Status.InitContainerStatuses) != 1 {
				return fmt.Errorf("phase %q init statuses %d", p.Status.Phase, len(p.Status.InitContainerStatuses))
			}
			s := p.Status.InitContainerStatuses[0]
			if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 || !s.Ready {
				t.Errorf("init container: state %+v ready %v", s.State, s.Ready)
			}
			return nil
		})
		want := map[string]bool{
			"spec.initContainers{setup} Started: Container started": false,
			"spec.containers{app} Created: Container created":       false,
			"spec.containers{app} Started: Container started":       false,
		}
		poll(t, 15*time.Second, "the kubelet's events", func() error {
			evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, ev := range evs.Items {
				if ev.InvolvedObject.UID != created.UID || ev.Source.Component != "kubelet" || ev.Source.Host != "hollow-2" {
					continue
				}
				want[ev.InvolvedObject.FieldPath+" "+ev.Reason+": "+ev.Message] = true
			}
			for k, seen := range want {
				if !seen {
					return fmt.Errorf("no event %q", k)
				}
			}
			return nil
		})
	})

	t.Run("observedGeneration follows spec updates; a lowered activeDeadlineSeconds fails the pod", func(t *testing.T) {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, boundPod("deadline", "hollow-0", corev1.RestartPolicyAlways), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		observed := func(gen int64) func() error {
			return func() error {
				p, err := cs.CoreV1().Pods("default").Get(ctx, "deadline", metav1.GetOptions{})
				if err != nil {
					return err
				}
				if p.Generation != gen || p.Status.ObservedGeneration != gen || p.Status.Phase != corev1.PodRunning {
					return fmt.Errorf("generation %d observed %d phase %s", p.Generation, p.Status.ObservedGeneration, p.Status.Phase)
				}
				for _, typ := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled} {
					if c := podCondition(p, typ); c == nil || c.ObservedGeneration != gen {
						return fmt.Errorf("condition %s: %+v", typ, c)
					}
				}
				return nil
			}
		}
		poll(t, 15*time.Second, "generation 1 observed", observed(1))
		setDeadline := func(seconds int) {
			t.Helper()
			patch := fmt.Appendf(nil, `{"spec":{"activeDeadlineSeconds":%d}}`, seconds)
			if _, err := cs.CoreV1().Pods("default").Patch(ctx, "deadline", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		setDeadline(5000)
		poll(t, 15*time.Second, "generation 2 observed", observed(2))
		setDeadline(2)
		poll(t, 15*time.Second, "pod Failed with DeadlineExceeded", func() error {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "deadline", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.Phase != corev1.PodFailed {
				return fmt.Errorf("phase %q", p.Status.Phase)
			}
			if p.Status.Reason != "DeadlineExceeded" || p.Status.Message != "Pod was active on the node longer than the specified deadline" ||
				p.Status.ObservedGeneration != 3 {
				t.Errorf("reason %q message %q observedGeneration %d", p.Status.Reason, p.Status.Message, p.Status.ObservedGeneration)
			}
			if s := p.Status.ContainerStatuses; len(s) != 1 || s[0].State.Terminated == nil || s[0].Ready {
				t.Errorf("container statuses %+v", s)
			}
			return nil
		})
	})

	t.Run("a deleted pod is stopped and removed", func(t *testing.T) {
		if err := cs.CoreV1().Pods("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		poll(t, 15*time.Second, "pod gone", func() error {
			_, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there: %v", err)
		})
	})

	t.Run("100 nodes register and run 1000 pods", func(t *testing.T) {
		start := time.Now()
		many := startCluster(t, cs, hollow.Options{Count: 100, NamePrefix: "many-", ClusterCIDR: netip.MustParsePrefix("10.60.0.0/16"), NodeIPRange: netip.MustParsePrefix("10.61.0.0/16")})
		select {
		case <-many.Registered():
		case <-time.After(60 * time.Second):
			t.Fatal("100 nodes did not register in 60s")
		}
		t.Logf("100 nodes registered in %s", time.Since(start))
		start = time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for w := range 16 {
			wg.Go(func() {
				for i := w; i < 1000; i += 16 {
					p := boundPod(fmt.Sprintf("many-%d", i), fmt.Sprintf("many-%d", i%100), corev1.RestartPolicyAlways)
					if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		t.Logf("1000 pods created in %s", time.Since(start))
		poll(t, 60*time.Second, "1000 pods Running", func() error {
			list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Running"})
			if err != nil {
				return err
			}
			if n := len(list.Items); n < 1000 {
				return fmt.Errorf("%d running", n)
			}
			return nil
		})
		t.Logf("1000 pods Running %s after creation started", time.Since(start))
	})
}

func resourceQuantity(s string) *resource.Quantity { q := resource.MustParse(s); return &q }

// With WaitForPodCIDR a node registers without a pod CIDR and its pods
// wait, without addresses, until one is assigned (here by hand, as the node
// IPAM controller does); then they run with addresses from it.
func TestHollowNodeWaitsForPodCIDR(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	cs := s.Client
	c := startCluster(t, cs, hollow.Options{Names: []string{"ipam-0"}, WaitForPodCIDR: true})
	select {
	case <-c.Registered():
	case <-time.After(30 * time.Second):
		t.Fatal("node did not register")
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, "ipam-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Spec.PodCIDR != "" || len(node.Spec.PodCIDRs) != 0 {
		t.Fatalf("node registered with pod CIDR %q %v", node.Spec.PodCIDR, node.Spec.PodCIDRs)
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, boundPod("web", "ipam-0", corev1.RestartPolicyAlways), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A deliberate wait: what is asserted is that nothing happens. The
	// hollow kubelet has no state to observe while the pod waits for a
	// CIDR, and it reacts to a new pod within milliseconds; a second is
	// plenty for it to have started the pod had it wrongly done so.
	time.Sleep(time.Second)
	p, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.PodIP != "" || p.Status.Phase == corev1.PodRunning {
		t.Fatalf("pod ran without a pod CIDR: phase %q IP %q", p.Status.Phase, p.Status.PodIP)
	}

	patch := []byte(`{"spec":{"podCIDR":"10.42.7.0/24","podCIDRs":["10.42.7.0/24"]}}`)
	if _, err := cs.CoreV1().Nodes().Patch(ctx, "ipam-0", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 15*time.Second, "pod Running with an address", func() error {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			return fmt.Errorf("phase %q IP %q", p.Status.Phase, p.Status.PodIP)
		}
		if ip := netip.MustParseAddr(p.Status.PodIP); !netip.MustParsePrefix("10.42.7.0/24").Contains(ip) {
			t.Errorf("pod IP %s outside the assigned 10.42.7.0/24", ip)
		}
		return nil
	})
}
