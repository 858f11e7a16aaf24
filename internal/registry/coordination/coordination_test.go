package coordination

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func seedLease() *coordinationv1.Lease {
	now := metav1.NewMicroTime(time.Now())
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-scheduler", Namespace: "kube-system"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To("skiff-server-1_8c4f"),
			LeaseDurationSeconds: ptr.To[int32](15),
			AcquireTime:          &now,
			RenewTime:            &now,
			LeaseTransitions:     ptr.To[int32](0),
		},
	}
}

func TestValidate(t *testing.T) {
	kind := Kinds()[0]
	tests := []struct {
		name   string
		mutate func(*coordinationv1.Lease)
		want   []string
	}{
		{name: "seed lease", mutate: func(*coordinationv1.Lease) {}},
		{name: "empty spec", mutate: func(l *coordinationv1.Lease) { l.Spec = coordinationv1.LeaseSpec{} }},
		{
			name:   "zero duration",
			mutate: func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = ptr.To[int32](0) },
			want:   []string{"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"},
		},
		{
			name:   "negative transitions",
			mutate: func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = ptr.To[int32](-1) },
			want:   []string{"spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"},
		},
		{
			name: "unknown strategy",
			mutate: func(l *coordinationv1.Lease) {
				l.Spec.Strategy = ptr.To(coordinationv1.CoordinatedLeaseStrategy("Newest"))
			},
			want: []string{`spec.strategy.strategy: Unsupported value: "Newest": supported values: "OldestEmulationVersion"`},
		},
		{
			name:   "preferredHolder without strategy",
			mutate: func(l *coordinationv1.Lease) { l.Spec.PreferredHolder = ptr.To("skiff-server-2") },
			want:   []string{"spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := seedLease()
			tt.mutate(l)
			var got []string
			for _, e := range kind.Validate(context.Background(), l) {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPrepare(t *testing.T) {
	kind := Kinds()[0]
	if !kind.AllowCreateOnUpdate {
		t.Error("leader election creates Leases with PUT; AllowCreateOnUpdate must be set")
	}
	l := seedLease()
	l.Generation = 1 // as the generic strategy sets it for kinds with a spec
	l.Spec.Strategy = ptr.To(coordinationv1.OldestEmulationVersion)
	l.Spec.PreferredHolder = ptr.To("skiff-server-2")
	kind.PrepareForCreate(context.Background(), l)
	if l.Generation != 0 || l.Spec.Strategy != nil || l.Spec.PreferredHolder != nil {
		t.Errorf("after create: generation %d, strategy %v, preferredHolder %v; want 0, unset, unset",
			l.Generation, l.Spec.Strategy, l.Spec.PreferredHolder)
	}

	renewed := l.DeepCopy()
	renewed.Generation = 1
	later := metav1.NewMicroTime(time.Now().Add(10 * time.Second))
	renewed.Spec.RenewTime = &later
	kind.PrepareForUpdate(context.Background(), renewed, l)
	if renewed.Generation != 0 {
		t.Errorf("generation after renewal = %d, want 0", renewed.Generation)
	}
}

func TestTable(t *testing.T) {
	kind := Kinds()[0]
	if len(kind.Columns) != 2 || kind.Columns[0].Name != "Holder" || kind.Columns[1].Name != "Age" {
		t.Errorf("columns = %+v, want Holder, Age", kind.Columns)
	}
	l := seedLease()
	l.CreationTimestamp = metav1.NewTime(time.Now().Add(-10 * time.Minute))
	got, err := kind.Row(l)
	if err != nil {
		t.Fatal(err)
	}
	if want := []interface{}{"skiff-server-1_8c4f", "10m"}; !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("row = %#v, want %#v", got, want)
	}
	l.Spec.HolderIdentity = nil
	got, _ = kind.Row(l)
	if got[0] != "" {
		t.Errorf("holder of a released lease = %q, want empty", got[0])
	}
}
