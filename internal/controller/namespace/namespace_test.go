package namespace

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestConditions(t *testing.T) {
	cms := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	deps := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	tests := []struct {
		name string
		d    deletion
		want map[corev1.NamespaceConditionType][3]string // status, reason, message
	}{{
		name: "all done",
		want: map[corev1.NamespaceConditionType][3]string{
			corev1.NamespaceDeletionDiscoveryFailure: {"False", "ResourcesDiscovered", "All resources successfully discovered"},
			corev1.NamespaceDeletionGVParsingFailure: {"False", "ParsedGroupVersions", "All legacy kube types successfully parsed"},
			corev1.NamespaceDeletionContentFailure:   {"False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
			corev1.NamespaceContentRemaining:         {"False", "ContentRemoved", "All content successfully removed"},
			corev1.NamespaceFinalizersRemaining:      {"False", "ContentHasNoFinalizers", "All content-preserving finalizers finished"},
		},
	}, {
		name: "content held by finalizers",
		d: deletion{
			remaining:  map[schema.GroupVersionResource]int{cms: 2, deps: 1},
			finalizers: map[string]int{"example.com/b": 1, "example.com/a": 2},
		},
		want: map[corev1.NamespaceConditionType][3]string{
			corev1.NamespaceContentRemaining: {"True", "SomeResourcesRemain",
				"Some resources are remaining: configmaps. has 2 resource instances, deployments.apps has 1 resource instances"},
			corev1.NamespaceFinalizersRemaining: {"True", "SomeFinalizersRemain",
				"Some content in the namespace has finalizers remaining: example.com/a in 2 resource instances, example.com/b in 1 resource instances"},
		},
	}, {
		name: "failures",
		d: deletion{
			discoveryErr: errors.New("discovery down"),
			errs:         []error{errors.New("b failed"), errors.New("a failed")},
		},
		want: map[corev1.NamespaceConditionType][3]string{
			corev1.NamespaceDeletionDiscoveryFailure: {"True", "DiscoveryFailed", "discovery down"},
			corev1.NamespaceDeletionContentFailure: {"True", "ContentDeletionFailed",
				"Failed to delete all resource types, 2 remaining: a failed, b failed"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var status corev1.NamespaceStatus
			if !updateConditions(&status, tt.d.conditions(), time.Unix(100, 0)) {
				t.Fatal("first update reported no change")
			}
			if len(status.Conditions) != 5 {
				t.Fatalf("got %d conditions, want 5", len(status.Conditions))
			}
			for _, c := range status.Conditions {
				want, ok := tt.want[c.Type]
				if !ok {
					if c.Status != corev1.ConditionFalse {
						t.Errorf("%s: status %s, want False", c.Type, c.Status)
					}
					continue
				}
				if got := [3]string{string(c.Status), c.Reason, c.Message}; got != want {
					t.Errorf("%s: got %q, want %q", c.Type, got, want)
				}
			}
			if updateConditions(&status, tt.d.conditions(), time.Unix(200, 0)) {
				t.Error("second identical update reported a change")
			}
		})
	}
}

func TestUpdateConditionsTransitionTime(t *testing.T) {
	var status corev1.NamespaceStatus
	remaining := deletion{remaining: map[schema.GroupVersionResource]int{{Version: "v1", Resource: "pods"}: 1}}
	updateConditions(&status, remaining.conditions(), time.Unix(100, 0))
	more := deletion{remaining: map[schema.GroupVersionResource]int{{Version: "v1", Resource: "pods"}: 2}}
	updateConditions(&status, more.conditions(), time.Unix(200, 0))
	done := deletion{}
	updateConditions(&status, done.conditions(), time.Unix(300, 0))
	for _, c := range status.Conditions {
		want := metav1.NewTime(time.Unix(100, 0))
		if c.Type == corev1.NamespaceContentRemaining {
			// Only a change of status moves the transition time.
			want = metav1.NewTime(time.Unix(300, 0))
		}
		if !c.LastTransitionTime.Equal(&want) {
			t.Errorf("%s: lastTransitionTime %v, want %v", c.Type, c.LastTransitionTime, want)
		}
	}
}
