package nodestatus

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestWriteStatus(t *testing.T) {
	now := metav1.Unix(1000, 0)
	ready := Conditions(Ready())
	stored := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Conditions: ready}}
	same := func(old *corev1.NodeStatus) corev1.NodeStatus { return *old.DeepCopy() }
	withIP := func(old *corev1.NodeStatus) corev1.NodeStatus {
		st := *old.DeepCopy()
		st.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}}
		return st
	}
	tests := []struct {
		name      string
		due       bool
		desired   Desired
		conflicts int
		retries   int
		wantWrote bool
		wantErr   bool
		wantPuts  int
	}{
		{name: "unchanged and not due: no write", desired: same},
		{name: "unchanged but due: written", due: true, desired: same, wantWrote: true, wantPuts: 1},
		{name: "changed: written", desired: withIP, wantWrote: true, wantPuts: 1},
		{name: "a conflict is retried on a fresh read", desired: withIP, conflicts: 1, retries: 2, wantWrote: true, wantPuts: 2},
		{name: "conflicts past the retries: error", desired: withIP, conflicts: 5, retries: 2, wantErr: true, wantPuts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(stored.DeepCopy())
			puts, conflicts := 0, tt.conflicts
			client.PrependReactor("update", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() != "status" {
					return false, nil, nil
				}
				puts++
				if conflicts > 0 {
					conflicts--
					return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "nodes"}, "n1", nil)
				}
				return false, nil, nil
			})
			wrote, err := WriteStatus(context.Background(), client.CoreV1().Nodes(), stored.DeepCopy(), tt.due, tt.desired, now, tt.retries)
			if (err != nil) != tt.wantErr || wrote != tt.wantWrote || puts != tt.wantPuts {
				t.Fatalf("wrote %v, err %v, %d status writes; want wrote %v, error %v, %d writes", wrote, err, puts, tt.wantWrote, tt.wantErr, tt.wantPuts)
			}
			if !wrote {
				return
			}
			got, _ := client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
			if want := tt.desired(&stored.Status); len(got.Status.Addresses) != len(want.Addresses) {
				t.Errorf("stored addresses %v, want %v", got.Status.Addresses, want.Addresses)
			}
			for _, c := range got.Status.Conditions {
				if !c.LastHeartbeatTime.Equal(&now) {
					t.Errorf("condition %s heartbeat %v, want %v", c.Type, c.LastHeartbeatTime, now)
				}
			}
		})
	}
}

// Adopt merges into the stored node and updates it only when something
// changed, then writes the status.
func TestAdopt(t *testing.T) {
	now := metav1.Unix(1000, 0)
	for _, tc := range []struct {
		name       string
		labels     map[string]string
		wantUpdate bool
	}{
		{"labels already there: status only", map[string]string{"a": "1"}, false},
		{"a new label: object and status", map[string]string{"a": "1", "b": "2"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"a": "1"}}})
			merge := func(upd *corev1.Node) {
				for k, v := range tc.labels {
					upd.Labels[k] = v
				}
			}
			desired := func(*corev1.NodeStatus) corev1.NodeStatus { return corev1.NodeStatus{Conditions: Conditions(Ready())} }
			got, err := Adopt(context.Background(), client.CoreV1().Nodes(), "n1", merge, desired, now)
			if err != nil {
				t.Fatal(err)
			}
			var updates, statusUpdates int
			for _, a := range client.Actions() {
				if a.GetVerb() == "update" {
					if a.GetSubresource() == "status" {
						statusUpdates++
					} else {
						updates++
					}
				}
			}
			if (updates == 1) != tc.wantUpdate || statusUpdates != 1 {
				t.Errorf("%d updates and %d status updates; want update %v and one status update", updates, statusUpdates, tc.wantUpdate)
			}
			if len(got.Labels) != len(tc.labels) || len(got.Status.Conditions) == 0 {
				t.Errorf("adopted node %v", got)
			}
		})
	}
}
