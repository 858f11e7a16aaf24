//go:build integration

package kubelet

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/agent/runtime"
)

func TestNodeRegistersAndTurnsReady(t *testing.T) {
	env := startKubelet(t, func(c *Config) {
		c.FakeGPUs = 2
		c.Labels = map[string]string{"pool": "gpu"}
		c.Taints = []corev1.Taint{{Key: "dedicated", Value: "ml", Effect: corev1.TaintEffectNoSchedule}}
	})
	ctx := context.Background()
	var node *corev1.Node
	poll(t, 20*time.Second, "node Ready", func() error {
		var err error
		node, err = env.client.CoreV1().Nodes().Get(ctx, testNode, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				if c.Status != corev1.ConditionTrue {
					return fmt.Errorf("Ready %s %s %q", c.Status, c.Reason, c.Message)
				}
				if c.Reason != "KubeletReady" || c.Message != "kubelet is posting ready status" {
					return fmt.Errorf("Ready reason %q message %q", c.Reason, c.Message)
				}
				return nil
			}
		}
		return fmt.Errorf("no Ready condition")
	})
	st := node.Status
	if got := st.Capacity[gpuResource]; got.Value() != 2 {
		t.Errorf("gpu capacity = %s", got.String())
	}
	if got := st.Allocatable[corev1.ResourcePods]; got.Value() != 110 {
		t.Errorf("pods allocatable = %s", got.String())
	}
	if got := st.Capacity[corev1.ResourceCPU]; got.Value() < 1 {
		t.Errorf("cpu capacity = %s", got.String())
	}
	if got := st.Capacity[corev1.ResourceMemory]; got.Value() < 1<<20 {
		t.Errorf("memory capacity = %s", got.String())
	}
	if _, ok := st.Capacity[corev1.ResourceEphemeralStorage]; !ok {
		t.Errorf("no ephemeral-storage capacity")
	}
	for k, v := range map[string]string{
		"kubernetes.io/hostname": testNode, "kubernetes.io/os": "linux", "pool": "gpu", fakeGPULabel: "true",
	} {
		if node.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, node.Labels[k], v)
		}
	}
	if len(node.Spec.Taints) != 1 || node.Spec.Taints[0].Key != "dedicated" {
		t.Errorf("taints = %+v", node.Spec.Taints)
	}
	if len(st.Addresses) != 2 || st.Addresses[0].Address != "192.0.2.10" || st.Addresses[1].Address != testNode {
		t.Errorf("addresses = %+v", st.Addresses)
	}
	if st.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("kubelet port = %d", st.DaemonEndpoints.KubeletEndpoint.Port)
	}
	if st.NodeInfo.ContainerRuntimeVersion != "fake://1.0.0" || st.NodeInfo.KubeletVersion != kubeletVersion || st.NodeInfo.OperatingSystem != "linux" {
		t.Errorf("nodeInfo = %+v", st.NodeInfo)
	}
	for _, typ := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		found := false
		for _, c := range st.Conditions {
			if c.Type == typ {
				found = c.Status == corev1.ConditionFalse
			}
		}
		if !found {
			t.Errorf("%s not False", typ)
		}
	}

	lease, err := env.client.CoordinationV1().Leases("kube-node-lease").Get(ctx, testNode, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := lease.Spec.RenewTime.Time
	if *lease.Spec.HolderIdentity != testNode || *lease.Spec.LeaseDurationSeconds != 40 {
		t.Errorf("lease spec = %+v", lease.Spec)
	}
	poll(t, 10*time.Second, "lease renewed", func() error {
		l, err := env.client.CoordinationV1().Leases("kube-node-lease").Get(ctx, testNode, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !l.Spec.RenewTime.After(first) {
			return fmt.Errorf("renewTime still %s", l.Spec.RenewTime)
		}
		return nil
	})
}

func TestNodeNotReadyUntilRuntimeAnswers(t *testing.T) {
	release := make(chan struct{})
	env := startKubelet(t, func(c *Config) {
		next := c.NewRuntime
		c.NewRuntime = func(ctx context.Context, cidr netip.Prefix) (runtime.Runtime, error) {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return next(ctx, cidr)
		}
	})
	readyIs := func(status corev1.ConditionStatus, reason, message string) func() error {
		return func() error {
			node, err := env.client.CoreV1().Nodes().Get(context.Background(), testNode, metav1.GetOptions{})
			if err != nil {
				return err
			}
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady {
					if c.Status != status || c.Reason != reason || c.Message != message {
						return fmt.Errorf("Ready = %s %s %q", c.Status, c.Reason, c.Message)
					}
					return nil
				}
			}
			return fmt.Errorf("no Ready condition")
		}
	}
	poll(t, 10*time.Second, "Ready False", readyIs(corev1.ConditionFalse, "KubeletNotReady", "container runtime is starting"))
	close(release)
	poll(t, 10*time.Second, "Ready True", readyIs(corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"))
}
