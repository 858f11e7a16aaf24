package nodestatus

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestBeat(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	client := fake.NewClientset()
	var b Beat
	b.Registered(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "u1"}}, t0)
	for _, tt := range []struct {
		at   time.Duration
		due  bool
		note string
	}{
		{0, false, "just registered"},
		{59 * time.Second, false, "before the report frequency"},
		{time.Minute, true, "at the report frequency"},
	} {
		if got := b.Due(t0.Add(tt.at), time.Minute); got != tt.due {
			t.Errorf("%s: Due = %v, want %v", tt.note, got, tt.due)
		}
	}
	b.Reported(t0.Add(time.Minute))
	if b.Due(t0.Add(90*time.Second), time.Minute) {
		t.Error("Due 30s after a report, want not due")
	}
	// The first renewal creates the Lease owned by the registered Node; the
	// next one updates the Lease kept from the first.
	for _, at := range []time.Duration{0, 10 * time.Second} {
		if err := b.RenewLease(ctx, client, "n1", 40*time.Second, t0.Add(at)); err != nil {
			t.Fatal(err)
		}
		l, err := client.CoordinationV1().Leases(LeaseNamespace).Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !l.Spec.RenewTime.Time.Equal(t0.Add(at)) || len(l.OwnerReferences) != 1 || l.OwnerReferences[0].UID != "u1" {
			t.Errorf("after renewal at +%s: renewTime %v, owners %v", at, l.Spec.RenewTime, l.OwnerReferences)
		}
	}
}
