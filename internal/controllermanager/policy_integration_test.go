//go:build integration

package controllermanager_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"skiff.dev/skiff/internal/controllermanager"
	"skiff.dev/skiff/internal/testserver"
)

// TestPolicyControllers: the resourcequota controller fills a quota's
// status (hard and used, extended resources included) and the disruption
// controller a budget's (healthy pods, disruptions allowed).
func TestPolicyControllers(t *testing.T) {
	srv := testserver.Start(t, nil)
	c := srv.Client
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		_ = controllermanager.Run(ctx, controllermanager.Config{RestConfig: srv.Config, Identity: "test", DisableServiceLB: true})
	}()
	gpu := corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
	if _, err := c.CoreV1().ResourceQuotas("default").Create(ctx, &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "gpu"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse("2"), "pods": resource.MustParse("10")}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "the quota's status.hard", func() error {
		q, err := c.CoreV1().ResourceQuotas("default").Get(ctx, "gpu", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(q.Status.Hard) != 2 {
			return fmt.Errorf("status.hard %v", q.Status.Hard)
		}
		return nil
	})
	for i := range 3 {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "img"}}},
		}
		if i == 0 {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: gpu, Limits: gpu}
		}
		if _, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p, err := c.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := c.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	testserver.Poll(t, 30*time.Second, "the quota's status.used", func() error {
		q, err := c.CoreV1().ResourceQuotas("default").Get(ctx, "gpu", metav1.GetOptions{})
		if err != nil {
			return err
		}
		used, pods := q.Status.Used["requests.nvidia.com/gpu"], q.Status.Used["pods"]
		if used.String() != "1" || pods.String() != "3" {
			return fmt.Errorf("status.used %v", q.Status.Used)
		}
		return nil
	})

	minAvailable := intstr.FromInt32(2)
	if _, err := c.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "the budget's status", func() error {
		pdb, err := c.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		st := pdb.Status
		if st.ObservedGeneration != pdb.Generation || st.CurrentHealthy != 3 || st.DesiredHealthy != 2 || st.DisruptionsAllowed != 1 {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
}
