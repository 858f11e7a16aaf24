package replicaset

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ktypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

type fixture struct {
	c        *Controller
	client   *fake.Clientset
	recorder *record.FakeRecorder
	factory  informers.SharedInformerFactory
}

func newReplicaSet(name string, n int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: ktypes.UID("uid-rs-" + name), Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
		},
	}
}

func owned(rs *appsv1.ReplicaSet) podOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(rs, controllerKind)}
		p.Labels = map[string]string{"app": "web", "tier": "front"}
	}
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	// The fake does not generate names.
	var seq atomic.Int32
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s%d", p.GenerateName, seq.Add(1))
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(100)
	c := New(client, factory, rec, Options{Clock: clocktesting.NewFakePassiveClock(t0)})
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.ReplicaSet:
			_ = factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		}
	}
	return &fixture{c: c, client: client, recorder: rec, factory: factory}
}

func (f *fixture) actions(verb, resource string) []k8stesting.Action {
	var out []k8stesting.Action
	for _, a := range f.client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			out = append(out, a)
		}
	}
	return out
}

func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (f *fixture) status(t *testing.T) appsv1.ReplicaSetStatus {
	t.Helper()
	ups := f.actions("update", "replicasets")
	if len(ups) == 0 {
		t.Fatal("no status update")
	}
	a := ups[len(ups)-1].(k8stesting.UpdateAction)
	if a.GetSubresource() != "status" {
		t.Fatalf("update of %q, want status", a.GetSubresource())
	}
	return a.GetObject().(*appsv1.ReplicaSet).Status
}

func TestSyncCreatesMissingPods(t *testing.T) {
	rs := newReplicaSet("web", 3)
	f := newFixture(t, rs, mkPod("web-existing", owned(rs)))
	if err := f.c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	creates := f.actions("create", "pods")
	if len(creates) != 2 {
		t.Fatalf("%d creates, want 2", len(creates))
	}
	p := creates[0].(k8stesting.CreateAction).GetObject().(*corev1.Pod)
	ref := metav1.GetControllerOf(p)
	if p.GenerateName != "web-" || ref == nil || ref.UID != rs.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("pod generateName %q owner %+v", p.GenerateName, ref)
	}
	if p.Labels["tier"] != "front" {
		t.Errorf("pod labels %v, want the template's", p.Labels)
	}
	ev := f.events()
	if len(ev) != 2 || !strings.HasPrefix(ev[0], "Normal SuccessfulCreate Created pod: web-") {
		t.Errorf("events %q", ev)
	}

	// The informer has not shown the new pods yet: a second sync must not
	// create them again.
	if err := f.c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.actions("create", "pods")); n != 2 {
		t.Errorf("second sync: %d creates in all, want still 2", n)
	}
}

func TestSyncDeletesLeastValuablePods(t *testing.T) {
	rs := newReplicaSet("web", 1)
	f := newFixture(t, rs,
		mkPod("ready", owned(rs), readySince(time.Hour)),
		mkPod("pending", owned(rs), unassigned, phase(corev1.PodPending)),
		mkPod("notready", owned(rs)),
	)
	if err := f.c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	deleted := map[string]bool{}
	for _, a := range f.actions("delete", "pods") {
		deleted[a.(k8stesting.DeleteAction).GetName()] = true
	}
	if len(deleted) != 2 || !deleted["pending"] || !deleted["notready"] {
		t.Errorf("deleted %v, want pending and notready", deleted)
	}
	ev := f.events()
	if len(ev) != 2 || !strings.HasPrefix(ev[0], "Normal SuccessfulDelete Deleted pod: ") {
		t.Errorf("events %q", ev)
	}
}

func TestSyncAdoptsAndReleases(t *testing.T) {
	rs := newReplicaSet("web", 2)
	stray := mkPod("stray", owned(rs))
	stray.Labels = map[string]string{"app": "other"}
	f := newFixture(t, rs, mkPod("orphan"), stray, mkPod("theirs", func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: "x", Controller: new(true)}}
	}))
	if err := f.c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	patched := map[string]string{}
	for _, a := range f.actions("patch", "pods") {
		pa := a.(k8stesting.PatchAction)
		patched[pa.GetName()] = string(pa.GetPatch())
	}
	if !strings.Contains(patched["orphan"], `"controller":true`) {
		t.Errorf("orphan patch %q, want adoption", patched["orphan"])
	}
	if !strings.Contains(patched["stray"], `"$patch":"delete"`) {
		t.Errorf("stray patch %q, want release", patched["stray"])
	}
	if _, ok := patched["theirs"]; ok {
		t.Error("patched a pod owned by another controller")
	}
	orphan, _ := f.client.CoreV1().Pods("ns").Get(context.Background(), "orphan", metav1.GetOptions{})
	if ref := metav1.GetControllerOf(orphan); ref == nil || ref.UID != rs.UID {
		t.Errorf("orphan owner %+v after adoption", ref)
	}
	// One adopted pod of two wanted: one creation.
	if n := len(f.actions("create", "pods")); n != 1 {
		t.Errorf("%d creates, want 1", n)
	}
}

func TestSyncStatus(t *testing.T) {
	rs := newReplicaSet("web", 3)
	rs.Spec.MinReadySeconds = 30
	partly := mkPod("partly", owned(rs), readySince(time.Hour))
	partly.Labels = map[string]string{"app": "web"} // matches the selector, not the whole template
	deleting := mkPod("deleting", owned(rs), readySince(time.Hour))
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	f := newFixture(t, rs,
		mkPod("available", owned(rs), readySince(time.Hour)),
		mkPod("young", owned(rs), readySince(10*time.Second)),
		partly, deleting,
	)
	if err := f.c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	s := f.status(t)
	want := appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 2, ObservedGeneration: 1}
	if s.Replicas != want.Replicas || s.FullyLabeledReplicas != want.FullyLabeledReplicas || s.ReadyReplicas != want.ReadyReplicas ||
		s.AvailableReplicas != want.AvailableReplicas || s.ObservedGeneration != want.ObservedGeneration ||
		s.TerminatingReplicas == nil || *s.TerminatingReplicas != 1 {
		t.Errorf("status %+v, want %+v with 1 terminating", s, want)
	}
}

func TestSyncCreateFailureSetsReplicaFailure(t *testing.T) {
	rs := newReplicaSet("web", 2)
	f := newFixture(t, rs)
	f.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "web-x", fmt.Errorf("exceeded quota: q"))
	})
	if err := f.c.sync(context.Background(), "ns/web"); err == nil {
		t.Fatal("want an error to retry")
	}
	if n := len(f.actions("create", "pods")); n != 1 {
		t.Errorf("%d create attempts, want 1 (slow start stops at the first failure)", n)
	}
	s := f.status(t)
	if len(s.Conditions) != 1 || s.Conditions[0].Type != appsv1.ReplicaSetReplicaFailure || s.Conditions[0].Reason != "FailedCreate" ||
		s.Conditions[0].Message != `pods "web-x" is forbidden: exceeded quota: q` {
		t.Errorf("conditions %+v", s.Conditions)
	}
	ev := f.events()
	if len(ev) != 1 || ev[0] != `Warning FailedCreate Error creating: pods "web-x" is forbidden: exceeded quota: q` {
		t.Errorf("events %q", ev)
	}
}
