package deployment

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestResolveFenceposts(t *testing.T) {
	pct := intstr.FromString
	num := intstr.FromInt32
	tests := []struct {
		surge, unavail         intstr.IntOrString
		desired                int32
		wantSurge, wantUnavail int32
	}{
		{pct("25%"), pct("25%"), 10, 3, 2}, // surge rounds up, unavailable down
		{pct("25%"), pct("25%"), 3, 1, 0},
		{num(1), num(0), 3, 1, 0},
		{num(0), num(0), 3, 0, 1}, // both zero: one unavailable
		{pct("0%"), pct("0%"), 5, 0, 1},
		{pct("100%"), num(2), 4, 4, 2},
	}
	for _, tt := range tests {
		s, u, err := resolveFenceposts(&tt.surge, &tt.unavail, tt.desired)
		if err != nil || s != tt.wantSurge || u != tt.wantUnavail {
			t.Errorf("resolveFenceposts(%v, %v, %d) = %d, %d, %v; want %d, %d", tt.surge.String(), tt.unavail.String(), tt.desired, s, u, err, tt.wantSurge, tt.wantUnavail)
		}
	}
}

func TestTemplateHash(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "v1"}}}}
	h1 := templateHash(&tmpl, nil)
	if h1 != templateHash(tmpl.DeepCopy(), nil) {
		t.Error("hash not deterministic")
	}
	one := int32(1)
	if templateHash(&tmpl, &one) == h1 {
		t.Error("collision count does not change the hash")
	}
	tmpl.Spec.Containers[0].Image = "v2"
	if templateHash(&tmpl, nil) == h1 {
		t.Error("template change does not change the hash")
	}
	for _, r := range h1 {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			t.Errorf("hash %q is not safe-encoded", h1)
		}
	}
}

func TestSetNewReplicaSetAnnotations(t *testing.T) {
	d := newDeployment("web", 3)
	d.Annotations = map[string]string{
		"kubernetes.io/change-cause":       "kubectl set image",
		corev1.LastAppliedConfigAnnotation: "{}",
		RevisionAnnotation:                 "9",
	}
	tests := []struct {
		name        string
		existing    map[string]string
		exists      bool
		newRevision string
		want        map[string]string
	}{
		{
			name: "new", newRevision: "1",
			want: map[string]string{"kubernetes.io/change-cause": "kubectl set image", RevisionAnnotation: "1",
				DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4"},
		},
		{
			name: "rollback to an old one keeps its history", exists: true, newRevision: "5",
			existing: map[string]string{RevisionAnnotation: "3", RevisionHistoryAnnotation: "1"},
			want: map[string]string{"kubernetes.io/change-cause": "kubectl set image", RevisionAnnotation: "5",
				RevisionHistoryAnnotation: "1,3"},
		},
		{
			name: "never lowers the revision", exists: true, newRevision: "2",
			existing: map[string]string{RevisionAnnotation: "4"},
			want:     map[string]string{"kubernetes.io/change-cause": "kubectl set image", RevisionAnnotation: "4"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := &appsv1.ReplicaSet{}
			rs.Annotations = tt.existing
			setNewReplicaSetAnnotations(d, rs, tt.newRevision, tt.exists)
			if len(rs.Annotations) != len(tt.want) {
				t.Fatalf("annotations %v, want %v", rs.Annotations, tt.want)
			}
			for k, v := range tt.want {
				if rs.Annotations[k] != v {
					t.Fatalf("annotations %v, want %v", rs.Annotations, tt.want)
				}
			}
		})
	}
}

func TestNewRSNewReplicas(t *testing.T) {
	d := newDeployment("web", 3)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: new(intstr.FromInt32(1)), MaxUnavailable: new(intstr.FromInt32(0))}
	old := newRS("web-old", 3, 3)
	fresh := newRS("web-new", 0, 0)
	if got := newRSNewReplicas(d, []*appsv1.ReplicaSet{old, fresh}, fresh); got != 1 {
		t.Errorf("surge 1 over 3 old: new RS to %d, want 1", got)
	}
	fresh.Spec.Replicas = new(int32(1))
	if got := newRSNewReplicas(d, []*appsv1.ReplicaSet{old, fresh}, fresh); got != 1 {
		t.Errorf("at the surge limit: new RS to %d, want 1", got)
	}
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if got := newRSNewReplicas(d, []*appsv1.ReplicaSet{old, fresh}, fresh); got != 3 {
		t.Errorf("recreate: new RS to %d, want 3", got)
	}
}
