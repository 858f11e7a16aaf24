package policy

import (
	"context"
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestPodDisruptionBudget(t *testing.T) {
	k := Kinds()[0]
	two, half := intstr.FromInt32(2), intstr.FromString("50%")
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	tests := []struct {
		name     string
		spec     policyv1.PodDisruptionBudgetSpec
		wantErr  string
		wantCols []interface{}
	}{
		{"minAvailable", policyv1.PodDisruptionBudgetSpec{MinAvailable: &two, Selector: sel}, "", []interface{}{"2", "N/A", int64(0)}},
		{"maxUnavailable percent", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &half, Selector: sel}, "", []interface{}{"N/A", "50%", int64(0)}},
		{"both", policyv1.PodDisruptionBudgetSpec{MinAvailable: &two, MaxUnavailable: &half, Selector: sel}, "spec", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Spec: tt.spec}
			errs := k.Validate(context.Background(), pdb)
			if tt.wantErr != "" {
				if len(errs) == 0 || errs[0].Field != tt.wantErr {
					t.Fatalf("errors %v, want one at %s", errs, tt.wantErr)
				}
				return
			}
			if len(errs) != 0 {
				t.Fatalf("errors %v", errs)
			}
			row, err := k.Row(pdb)
			if err != nil || len(row) != len(k.Columns) {
				t.Fatalf("row %v, %v", row, err)
			}
			for i, want := range tt.wantCols {
				if row[i] != want {
					t.Errorf("cell %s = %v, want %v", k.Columns[i].Name, row[i], want)
				}
			}
		})
	}
}
