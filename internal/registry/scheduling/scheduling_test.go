package scheduling

import (
	"context"
	"testing"

	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPriorityClass(t *testing.T) {
	k := Kinds()[0]
	tests := []struct {
		name    string
		pc      schedulingv1.PriorityClass
		wantErr string
	}{
		{"user class", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "inference"}, Value: 1000}, ""},
		{"too high for a user class", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Value: 2000000000}, "value"},
		{"reserved prefix", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-mine"}, Value: 10}, "metadata.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := k.Validate(context.Background(), &tt.pc)
			switch {
			case tt.wantErr == "" && len(errs) != 0:
				t.Errorf("errors %v", errs)
			case tt.wantErr != "" && (len(errs) == 0 || errs[0].Field != tt.wantErr):
				t.Errorf("errors %v, want one at %s", errs, tt.wantErr)
			}
		})
	}
	old := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "inference"}, Value: 1000}
	changed := old.DeepCopy()
	changed.Value = 5
	if errs := k.ValidateUpdate(context.Background(), changed, old); len(errs) == 0 || errs[0].Field != "value" {
		t.Errorf("value changed: %v, want an error at value", errs)
	}
}
