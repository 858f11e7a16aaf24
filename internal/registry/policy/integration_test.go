//go:build integration

package policy_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/testserver"
)

func pod(name string, requests corev1.ResourceList) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img",
			Resources: corev1.ResourceRequirements{Requests: requests, Limits: requests}}}},
	}
}

// runningReady marks a pod bound, running and ready, as a kubelet would.
func runningReady(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	ctx := context.Background()
	p, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := c.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestEvictionRespectsBudget(t *testing.T) {
	s := testserver.Start(t, nil)
	c, ctx := s.Client, context.Background()
	for _, n := range []string{"web-0", "web-1"} {
		if _, err := c.CoreV1().Pods("default").Create(ctx, pod(n, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		runningReady(t, c, n)
	}
	pdb, err := c.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptrTo(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What the disruption controller writes: 2 healthy, 1 needed.
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2, DisruptionsAllowed: 1}
	if _, err := c.PolicyV1().PodDisruptionBudgets("default").UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	evict := func(name string) error {
		return c.CoreV1().Pods("default").EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}})
	}
	if err := evict("web-0"); err != nil {
		t.Fatalf("first eviction: %v", err)
	}
	got, err := c.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.DisruptionsAllowed != 0 || got.Status.DisruptedPods["web-0"].Time.IsZero() {
		t.Errorf("budget after an eviction: %+v", got.Status)
	}
	err = evict("web-1")
	var status apierrors.APIStatus
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("second eviction: %v, want 429", err)
	}
	status = err.(apierrors.APIStatus)
	if status.Status().Code != http.StatusTooManyRequests || status.Status().Message != "Cannot evict pod as it would violate the pod's disruption budget." {
		t.Errorf("second eviction: %+v", status.Status())
	}
	if _, err := c.CoreV1().Pods("default").Get(ctx, "web-1", metav1.GetOptions{}); err != nil {
		t.Errorf("refused eviction deleted the pod: %v", err)
	}

	// A pending pod is not guarded by its budget, spent as it is.
	if _, err := c.CoreV1().Pods("default").Create(ctx, pod("web-2", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := evict("web-2"); err != nil {
		t.Errorf("evicting a pending pod: %v", err)
	}
	if _, err := c.CoreV1().Pods("default").Get(ctx, "web-2", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("evicted pending pod: %v, want it gone", err)
	}
	// The caller's resourceVersion precondition is honoured, not retried.
	stale, err := c.CoreV1().Pods("default").Create(ctx, pod("web-3", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fresh := stale.DeepCopy()
	fresh.Labels["tier"] = "a"
	if _, err := c.CoreV1().Pods("default").Update(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = c.CoreV1().Pods("default").EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "web-3", Namespace: "default"},
		DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &stale.ResourceVersion}}})
	if !apierrors.IsConflict(err) {
		t.Errorf("eviction at a stale resourceVersion: %v, want a conflict", err)
	}
	if _, err := c.CoreV1().Pods("default").Get(ctx, "web-3", metav1.GetOptions{}); err != nil {
		t.Errorf("eviction at a stale resourceVersion deleted the pod: %v", err)
	}
}

func TestQuotaLimitsPriorityAdmission(t *testing.T) {
	s := testserver.Start(t, nil)
	c, ctx := s.Client, context.Background()
	gpu := corev1.ResourceName("nvidia.com/gpu")

	t.Run("system priority classes", func(t *testing.T) {
		for _, name := range []string{"system-cluster-critical", "system-node-critical"} {
			if _, err := c.SchedulingV1().PriorityClasses().Get(ctx, name, metav1.GetOptions{}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})

	t.Run("priorityClassName resolves to spec.priority", func(t *testing.T) {
		if _, err := c.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{
			ObjectMeta: metav1.ObjectMeta{Name: "inference"}, Value: 1000}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var p *corev1.Pod
		testserver.Poll(t, 10*time.Second, "the pod admitted with its class", func() error {
			in := pod("prio", nil)
			in.Spec.PriorityClassName = "inference"
			var err error
			p, err = c.CoreV1().Pods("default").Create(ctx, in, metav1.CreateOptions{})
			return err
		})
		if p.Spec.Priority == nil || *p.Spec.Priority != 1000 {
			t.Errorf("spec.priority = %v, want 1000", p.Spec.Priority)
		}
		in := pod("unknown", nil)
		in.Spec.PriorityClassName = "nope"
		if _, err := c.CoreV1().Pods("default").Create(ctx, in, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("unknown class: %v, want 403", err)
		}
	})

	t.Run("LimitRange default requests", func(t *testing.T) {
		if _, err := c.CoreV1().LimitRanges("default").Create(ctx, &corev1.LimitRange{
			ObjectMeta: metav1.ObjectMeta{Name: "defaults"},
			Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
				DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		testserver.Poll(t, 10*time.Second, "the default request", func() error {
			name := "plain"
			p, err := c.CoreV1().Pods("default").Create(ctx, pod(name, nil), metav1.CreateOptions{})
			if err != nil {
				return err
			}
			_ = c.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
			if got := p.Spec.Containers[0].Resources.Requests.Cpu().String(); got != "250m" {
				return &apierrors.StatusError{ErrStatus: metav1.Status{Message: "cpu request " + got}}
			}
			return nil
		})
	})

	t.Run("ResourceQuota refuses the second GPU pod", func(t *testing.T) {
		q, err := c.CoreV1().ResourceQuotas("default").Create(ctx, &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: "gpu-quota"},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse("1")}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// What the resourcequota controller writes first.
		q.Status.Hard = q.Spec.Hard
		q.Status.Used = corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse("0")}
		if _, err := c.CoreV1().ResourceQuotas("default").UpdateStatus(ctx, q, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Admission reads quotas from an informer and, while that has none,
		// from a live lookup cached for 30s (which the pods above may have
		// filled with "no quotas"): wait until the quota is enforced.
		testserver.Poll(t, 40*time.Second, "the quota enforced", func() error {
			_, err := c.CoreV1().Pods("default").Create(ctx, pod("gpu-probe", corev1.ResourceList{gpu: resource.MustParse("2")}), metav1.CreateOptions{})
			if err == nil {
				_ = c.CoreV1().Pods("default").Delete(ctx, "gpu-probe", metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
				return fmt.Errorf("a pod asking for 2 GPUs was admitted")
			}
			if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota: gpu-quota") {
				return nil
			}
			return err
		})
		one := corev1.ResourceList{gpu: resource.MustParse("1")}
		testserver.Poll(t, 10*time.Second, "the first GPU pod admitted", func() error {
			_, err := c.CoreV1().Pods("default").Create(ctx, pod("gpu-1", one), metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return err
		})
		_, err = c.CoreV1().Pods("default").Create(ctx, pod("gpu-2", one), metav1.CreateOptions{})
		want := `pods "gpu-2" is forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=1, limited: requests.nvidia.com/gpu=1`
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("second GPU pod: %v, want %q", err, want)
		}
	})
}

func ptrTo[T any](v T) *T { return &v }
