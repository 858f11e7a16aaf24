package nodestatus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func TestRenewLease(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	check := func(t *testing.T, l *coordinationv1.Lease, now time.Time) {
		t.Helper()
		if l.Namespace != LeaseNamespace || l.Name != "n1" {
			t.Errorf("lease %s/%s, want %s/n1", l.Namespace, l.Name, LeaseNamespace)
		}
		if got := ptr.Deref(l.Spec.HolderIdentity, ""); got != "n1" {
			t.Errorf("holderIdentity %q, want n1", got)
		}
		if got := ptr.Deref(l.Spec.LeaseDurationSeconds, 0); got != 40 {
			t.Errorf("leaseDurationSeconds %d, want 40", got)
		}
		if l.Spec.RenewTime == nil || !l.Spec.RenewTime.Time.Equal(now) {
			t.Errorf("renewTime %v, want %v", l.Spec.RenewTime, now)
		}
		want := metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "u1"}
		if len(l.OwnerReferences) != 1 || l.OwnerReferences[0] != want {
			t.Errorf("ownerReferences %v, want [%v]", l.OwnerReferences, want)
		}
	}
	stored := func(t *testing.T, c *fake.Clientset) *coordinationv1.Lease {
		t.Helper()
		l, err := c.CoordinationV1().Leases(LeaseNamespace).Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	t.Run("create then renew", func(t *testing.T) {
		c := fake.NewClientset()
		l, err := RenewLease(ctx, c, nil, "n1", "u1", 40*time.Second, t0)
		if err != nil {
			t.Fatal(err)
		}
		check(t, l, t0)
		check(t, stored(t, c), t0)
		t1 := t0.Add(10 * time.Second)
		c.ClearActions()
		l2, err := RenewLease(ctx, c, l, "n1", "u1", 40*time.Second, t1)
		if err != nil {
			t.Fatal(err)
		}
		if a := c.Actions(); len(a) != 1 || a[0].GetVerb() != "update" {
			t.Errorf("renewal actions %v, want one update", a)
		}
		check(t, l2, t1)
		check(t, stored(t, c), t1)
		if !l.Spec.RenewTime.Time.Equal(t0) {
			t.Errorf("prev was changed: renewTime %v", l.Spec.RenewTime)
		}
	})

	t.Run("take over existing", func(t *testing.T) {
		c := fake.NewClientset(&coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: LeaseNamespace},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To("other"),
				LeaseDurationSeconds: ptr.To(int32(5)),
			},
		})
		l, err := RenewLease(ctx, c, nil, "n1", "u1", 40*time.Second, t0)
		if err != nil {
			t.Fatal(err)
		}
		check(t, l, t0)
		check(t, stored(t, c), t0)
	})

	t.Run("recreate when gone", func(t *testing.T) {
		c := fake.NewClientset()
		l, err := RenewLease(ctx, c, nil, "n1", "u1", 40*time.Second, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.CoordinationV1().Leases(LeaseNamespace).Delete(ctx, "n1", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		t1 := t0.Add(10 * time.Second)
		if l, err = RenewLease(ctx, c, l, "n1", "u1", 40*time.Second, t1); err != nil {
			t.Fatal(err)
		}
		check(t, l, t1)
		check(t, stored(t, c), t1)
	})

	t.Run("other errors", func(t *testing.T) {
		c := fake.NewClientset()
		l, err := RenewLease(ctx, c, nil, "n1", "u1", 40*time.Second, t0)
		if err != nil {
			t.Fatal(err)
		}
		forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "n1", errors.New("no"))
		c.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, forbidden
		})
		c.ClearActions()
		got, err := RenewLease(ctx, c, l, "n1", "u1", 40*time.Second, t0.Add(time.Second))
		if !apierrors.IsForbidden(err) || got != nil {
			t.Fatalf("RenewLease = %v, %v; want nil and the Forbidden error", got, err)
		}
		if !strings.Contains(err.Error(), "renew lease kube-node-lease/n1") {
			t.Errorf("error %q does not name the lease", err)
		}
		if a := c.Actions(); len(a) != 1 {
			t.Errorf("actions %v, want only the update", a)
		}
	})
}
