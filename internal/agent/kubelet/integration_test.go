//go:build integration

package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/agent/runtime/fake"
	"skiff.dev/skiff/internal/testserver"
)

const testNode = "node-1"

type testEnv struct {
	client kubernetes.Interface
	rt     *fake.Runtime
	cfg    Config
	clock  *syncClock
}

// syncClock is the real clock, counting the pod workers' syncs: a worker
// re-arms its resync timer after each sync.
type syncClock struct {
	clock.WithTicker
	syncs atomic.Int64
}

func (c *syncClock) NewTimer(d time.Duration) clock.Timer {
	return &countedTimer{Timer: c.WithTicker.NewTimer(d), n: &c.syncs}
}

type countedTimer struct {
	clock.Timer
	n *atomic.Int64
}

func (t *countedTimer) Reset(d time.Duration) bool {
	t.n.Add(1)
	return t.Timer.Reset(d)
}

// poll calls check until it returns nil or the timeout passes.
// poll waits for check to pass (see testserver.Poll).
var poll = testserver.Poll

// startKubelet runs the kubelet with a fake runtime against a real API
// server, and gives the node its pod CIDR as the IPAM controller would.
func startKubelet(t *testing.T, mutate func(*Config)) *testEnv {
	t.Helper()
	s := testserver.Start(t, nil)
	env := &testEnv{client: s.Client, rt: fake.New(), clock: &syncClock{WithTicker: clock.RealClock{}}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.Default()
	}
	env.cfg = Config{
		Client:      s.Client,
		NodeName:    testNode,
		NodeIP:      "192.0.2.10",
		DataDir:     t.TempDir(),
		KubeletPort: 10250,
		NewRuntime: func(_ context.Context, cidr netip.Prefix) (runtime.Runtime, error) {
			env.rt.SetPodCIDR(cidr)
			return env.rt, nil
		},
		Logger:                    log,
		Clock:                     env.clock,
		NodeStatusUpdateFrequency: 300 * time.Millisecond,
		LeaseRenewInterval:        300 * time.Millisecond,
		RelistPeriod:              100 * time.Millisecond,
		ResyncPeriod:              time.Second,
		BackOffBase:               400 * time.Millisecond,
		BackOffMax:                3 * time.Second,
	}
	if mutate != nil {
		mutate(&env.cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, env.cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kubelet: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("kubelet did not stop")
		}
	})
	poll(t, 20*time.Second, "node registered", func() error {
		_, err := s.Client.CoreV1().Nodes().Get(ctx, testNode, metav1.GetOptions{})
		return err
	})
	patch := []byte(`{"spec":{"podCIDR":"10.244.1.0/24","podCIDRs":["10.244.1.0/24"]}}`)
	if _, err := s.Client.CoreV1().Nodes().Patch(ctx, testNode, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	return env
}

func (e *testEnv) createPod(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	if pod.Namespace == "" {
		pod.Namespace = "default"
	}
	pod.Spec.NodeName = testNode
	got, err := e.client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (e *testEnv) getPod(name string) (*corev1.Pod, error) {
	return e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
}

// waitPod polls the pod until check passes.
func (e *testEnv) waitPod(t *testing.T, name, what string, check func(p *corev1.Pod) error) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	poll(t, 20*time.Second, name+": "+what, func() error {
		p, err := e.getPod(name)
		if err != nil {
			return err
		}
		last = p
		if err := check(p); err != nil {
			return fmt.Errorf("%w (status: phase=%s %s)", err, p.Status.Phase, describeStatuses(p))
		}
		return nil
	})
	return last
}

// waitPhase waits for the pod's phase.
func (e *testEnv) waitPhase(t *testing.T, name string, phase corev1.PodPhase) *corev1.Pod {
	t.Helper()
	return e.waitPod(t, name, string(phase), func(p *corev1.Pod) error {
		if p.Status.Phase != phase {
			return errors.New("not " + string(phase))
		}
		return nil
	})
}

func runningAndReady(p *corev1.Pod) error {
	if p.Status.Phase != corev1.PodRunning {
		return errors.New("not Running")
	}
	return isReady(p)
}

// waitSyncs waits until the pod workers synced n more times (with one
// pod: until its worker looked at it again n times).
func (e *testEnv) waitSyncs(t *testing.T, n int64) {
	t.Helper()
	want := e.clock.syncs.Load() + n
	poll(t, 20*time.Second, fmt.Sprintf("%d more syncs", n), func() error {
		if got := e.clock.syncs.Load(); got < want {
			return fmt.Errorf("%d syncs, want %d", got, want)
		}
		return nil
	})
}

// waitCalls waits until the runtime got n calls that start with prefix.
func (e *testEnv) waitCalls(t *testing.T, prefix string, n int) {
	t.Helper()
	poll(t, 20*time.Second, fmt.Sprintf("%d calls %q", n, prefix), func() error {
		got := 0
		for _, c := range e.rt.Calls() {
			if strings.HasPrefix(c, prefix) {
				got++
			}
		}
		if got < n {
			return fmt.Errorf("%d calls", got)
		}
		return nil
	})
}

func describeStatuses(p *corev1.Pod) string {
	var b strings.Builder
	for _, l := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, s := range l {
			fmt.Fprintf(&b, "[%s restarts=%d ready=%v ", s.Name, s.RestartCount, s.Ready)
			switch {
			case s.State.Waiting != nil:
				fmt.Fprintf(&b, "waiting %s %q", s.State.Waiting.Reason, s.State.Waiting.Message)
			case s.State.Running != nil:
				b.WriteString("running")
			case s.State.Terminated != nil:
				fmt.Fprintf(&b, "terminated %d %s", s.State.Terminated.ExitCode, s.State.Terminated.Reason)
			}
			b.WriteString("] ")
		}
	}
	return b.String()
}

func condition(p *corev1.Pod, typ corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == typ {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func isReady(p *corev1.Pod) error {
	if c := condition(p, corev1.PodReady); c == nil || c.Status != corev1.ConditionTrue {
		return fmt.Errorf("not Ready: %+v", c)
	}
	return nil
}

// events are the messages of the events about a pod, as "Reason: message".
func (e *testEnv) events(t *testing.T, podName string) []string {
	t.Helper()
	l, err := e.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range l.Items {
		if ev.InvolvedObject.Name == podName {
			s := ev.Reason + ": " + ev.Message
			if fp := ev.InvolvedObject.FieldPath; fp != "" {
				s += " [" + fp + "]"
			}
			out = append(out, s)
		}
	}
	return out
}

func (e *testEnv) waitEvent(t *testing.T, podName, want string) {
	t.Helper()
	poll(t, 20*time.Second, "event "+want, func() error {
		for _, ev := range e.events(t, podName) {
			if strings.Contains(ev, want) {
				return nil
			}
		}
		return fmt.Errorf("events: %q", e.events(t, podName))
	})
}

func simplePod(name string, containers ...corev1.Container) *corev1.Pod {
	if len(containers) == 0 {
		containers = []corev1.Container{{Name: "app", Image: "skiff/app:v1"}}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{Containers: containers},
	}
}

var _ = apierrors.IsNotFound
