package podsub

import (
	"errors"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestJudge(t *testing.T) {
	pod := func(phase corev1.PodPhase, ready bool) *corev1.Pod {
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-1", Labels: map[string]string{"app": "web"}},
			Status:     corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
		}
	}
	budget := func(name string, healthy, desired int32, policy *policyv1.UnhealthyPodEvictionPolicyType) policyv1.PodDisruptionBudget {
		return policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, UnhealthyPodEvictionPolicy: policy},
			Status:     policyv1.PodDisruptionBudgetStatus{CurrentHealthy: healthy, DesiredHealthy: desired},
		}
	}
	other := budget("other", 0, 0, nil)
	other.Spec.Selector.MatchLabels = map[string]string{"app": "db"}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		budgets []policyv1.PodDisruptionBudget
		want    verdict
		wantErr int32
	}{
		{"no budget", pod(corev1.PodRunning, true), nil, deleteFreely, 0},
		{"a budget of other pods", pod(corev1.PodRunning, true), []policyv1.PodDisruptionBudget{other}, deleteFreely, 0},
		{"a ready pod spends its budget", pod(corev1.PodRunning, true), []policyv1.PodDisruptionBudget{budget("web", 3, 2, nil)}, spendBudget, 0},
		{"a finished pod goes freely", pod(corev1.PodSucceeded, false), []policyv1.PodDisruptionBudget{budget("web", 0, 2, nil)}, deleteFreely, 0},
		{"a pending pod goes freely", pod(corev1.PodPending, false), []policyv1.PodDisruptionBudget{budget("web", 0, 2, nil)}, deleteFreely, 0},
		{"an unready pod of a healthy budget", pod(corev1.PodRunning, false), []policyv1.PodDisruptionBudget{budget("web", 2, 2, nil)}, deleteUnhealthy, 0},
		{"an unready pod of an unhealthy budget", pod(corev1.PodRunning, false), []policyv1.PodDisruptionBudget{budget("web", 1, 2, nil)}, spendBudget, 0},
		{"an unready pod, AlwaysAllow", pod(corev1.PodRunning, false), []policyv1.PodDisruptionBudget{budget("web", 1, 2, ptr.To(policyv1.AlwaysAllow))}, deleteUnhealthy, 0},
		{"two budgets", pod(corev1.PodRunning, true), []policyv1.PodDisruptionBudget{budget("a", 3, 2, nil), budget("b", 3, 2, nil)}, 0, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := judge(tt.pod, tt.budgets)
			if tt.wantErr != 0 {
				var status *apierrors.StatusError
				if !errors.As(err, &status) || status.ErrStatus.Code != tt.wantErr {
					t.Fatalf("err = %v, want code %d", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("judge = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestMayDisrupt(t *testing.T) {
	tests := []struct {
		name     string
		status   policyv1.PodDisruptionBudgetStatus
		gen      int64
		wantCode int32
		wantMsg  string
	}{
		{"allowed", policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, DisruptionsAllowed: 1}, 1, 0, ""},
		{"none left", policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, CurrentHealthy: 2, DesiredHealthy: 2}, 1, http.StatusTooManyRequests,
			"The disruption budget web needs 2 healthy pods and has 2 currently"},
		{"not yet observed", policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, DisruptionsAllowed: 1}, 2, http.StatusTooManyRequests,
			"The disruption budget web is still being processed by the server."},
		{"negative", policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, DisruptionsAllowed: -1}, 1, http.StatusForbidden,
			"The disruption budget web does not allow evicting pods currently: pdb disruptions allowed is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: tt.gen}, Status: tt.status}
			err := mayDisrupt(pdb)
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("mayDisrupt = %v, want nil", err)
				}
				return
			}
			var status *apierrors.StatusError
			if !errors.As(err, &status) || status.ErrStatus.Code != tt.wantCode {
				t.Fatalf("err = %v, want code %d", err, tt.wantCode)
			}
			if tt.wantCode == http.StatusTooManyRequests && status.ErrStatus.Message != "Cannot evict pod as it would violate the pod's disruption budget." {
				t.Errorf("message %q", status.ErrStatus.Message)
			}
			if causes := status.ErrStatus.Details.Causes; len(causes) != 1 || causes[0].Message != tt.wantMsg {
				t.Errorf("causes %v, want %q", causes, tt.wantMsg)
			}
		})
	}
}

func TestSpend(t *testing.T) {
	pdb := &policyv1.PodDisruptionBudget{Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1}}
	spend(pdb, "web-1", metav1.Now().Time)
	if pdb.Status.DisruptionsAllowed != 0 || pdb.Status.DisruptedPods["web-1"].Time.IsZero() {
		t.Errorf("status after spend: %+v", pdb.Status)
	}
}
