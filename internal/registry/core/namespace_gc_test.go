package core

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestGCFinalizers(t *testing.T) {
	orphan, foreground, background := metav1.DeletePropagationOrphan, metav1.DeletePropagationForeground, metav1.DeletePropagationBackground
	yes, no := true, false
	tests := []struct {
		name     string
		existing []string
		opts     metav1.DeleteOptions
		want     []string
	}{
		{"no policy keeps none", nil, metav1.DeleteOptions{}, nil},
		{"no policy keeps existing", []string{"example.com/x", metav1.FinalizerOrphanDependents}, metav1.DeleteOptions{}, []string{"example.com/x", metav1.FinalizerOrphanDependents}},
		{"orphan", nil, metav1.DeleteOptions{PropagationPolicy: &orphan}, []string{metav1.FinalizerOrphanDependents}},
		{"foreground replaces orphan", []string{metav1.FinalizerOrphanDependents}, metav1.DeleteOptions{PropagationPolicy: &foreground}, []string{metav1.FinalizerDeleteDependents}},
		{"background clears both", []string{metav1.FinalizerDeleteDependents, "example.com/x"}, metav1.DeleteOptions{PropagationPolicy: &background}, []string{"example.com/x"}},
		{"orphanDependents true", nil, metav1.DeleteOptions{OrphanDependents: &yes}, []string{metav1.FinalizerOrphanDependents}},
		{"orphanDependents false is foreground", nil, metav1.DeleteOptions{OrphanDependents: &no}, []string{metav1.FinalizerDeleteDependents}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gcFinalizers(tt.existing, &tt.opts); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
