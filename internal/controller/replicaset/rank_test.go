package replicaset

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type podOpt func(*corev1.Pod)

func mkPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name),
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)), Labels: map[string]string{"app": "web"}},
		Spec:   corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func unassigned(p *corev1.Pod) { p.Spec.NodeName = "" }
func onNode(n string) podOpt   { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) podOpt {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}
func readySince(d time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-d))})
	}
}
func restarts(n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: n}}
	}
}
func created(ago time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(-ago)) }
}
func cost(v string) podOpt {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{podDeletionCostAnnotation: v} }
}

func TestPodsToDelete(t *testing.T) {
	tests := []struct {
		name    string
		pods    []*corev1.Pod
		related []*corev1.Pod // nil: the pods themselves
		n       int
		want    []string
	}{
		{
			name: "unassigned before assigned",
			pods: []*corev1.Pod{mkPod("assigned", readySince(time.Hour)), mkPod("unassigned", unassigned, phase(corev1.PodPending))},
			n:    1, want: []string{"unassigned"},
		},
		{
			name: "pending before unknown before running",
			pods: []*corev1.Pod{mkPod("running"), mkPod("unknown", phase(corev1.PodUnknown)), mkPod("pending", phase(corev1.PodPending))},
			n:    2, want: []string{"pending", "unknown"},
		},
		{
			name: "not ready before ready",
			pods: []*corev1.Pod{mkPod("ready", readySince(time.Minute)), mkPod("notready")},
			n:    1, want: []string{"notready"},
		},
		{
			name: "lower deletion cost first",
			pods: []*corev1.Pod{mkPod("cheap", readySince(time.Minute), cost("-5")), mkPod("dear", readySince(time.Minute), cost("10"))},
			n:    1, want: []string{"cheap"},
		},
		{
			name: "doubled-up node first",
			pods: []*corev1.Pod{
				mkPod("alone", onNode("a"), readySince(time.Minute)),
				mkPod("crowded", onNode("b"), readySince(time.Hour)),
			},
			related: []*corev1.Pod{
				mkPod("alone", onNode("a")), mkPod("crowded", onNode("b")), mkPod("sibling", onNode("b")),
			},
			n: 1, want: []string{"crowded"},
		},
		{
			name: "ready for less time first",
			pods: []*corev1.Pod{mkPod("old", readySince(10*time.Hour)), mkPod("fresh", readySince(time.Minute))},
			n:    1, want: []string{"fresh"},
		},
		{
			name: "more restarts first",
			pods: []*corev1.Pod{mkPod("steady", restarts(0)), mkPod("flappy", restarts(7))},
			n:    1, want: []string{"flappy"},
		},
		{
			name: "newer first",
			pods: []*corev1.Pod{mkPod("older", created(10*time.Hour)), mkPod("newer", created(time.Minute))},
			n:    1, want: []string{"newer"},
		},
		{
			name: "all when n covers them",
			pods: []*corev1.Pod{mkPod("a"), mkPod("b")},
			n:    5, want: []string{"a", "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			related := tt.related
			if related == nil {
				related = tt.pods
			}
			got := podsToDelete(tt.pods, related, tt.n, t0)
			var names []string
			for _, p := range got {
				names = append(names, p.Name)
			}
			if len(names) != len(tt.want) {
				t.Fatalf("got %v, want %v", names, tt.want)
			}
			for i := range names {
				if names[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", names, tt.want)
				}
			}
		})
	}
}
