package deployment

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newDeployment(name string, n int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "v1"}}},
			},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge: new(intstr.FromString("25%")), MaxUnavailable: new(intstr.FromString("25%")),
				},
			},
			RevisionHistoryLimit:    new(int32(10)),
			ProgressDeadlineSeconds: new(int32(600)),
		},
	}
}

func newRS(name string, replicas, available int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": "web"}, CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: available, AvailableReplicas: available},
	}
}

// rsFor makes a ReplicaSet that d owns, with template image.
func rsFor(d *appsv1.Deployment, image, revision string, replicas, available int32, age time.Duration) *appsv1.ReplicaSet {
	t := d.Spec.Template.DeepCopy()
	t.Spec.Containers[0].Image = image
	hash := templateHash(t, nil)
	t.Labels = withLabel(t.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	rs := newRS(d.Name+"-"+hash, replicas, available)
	rs.Spec.Template = *t
	rs.Labels = t.Labels
	rs.CreationTimestamp = metav1.NewTime(t0.Add(-age))
	rs.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(d, controllerKind)}
	rs.Annotations = map[string]string{RevisionAnnotation: revision,
		DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4"}
	return rs
}

type fixture struct {
	c        *Controller
	client   *fake.Clientset
	recorder *record.FakeRecorder
	clock    *clocktesting.FakePassiveClock
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(100)
	clk := clocktesting.NewFakePassiveClock(t0)
	c := New(client, factory, rec, Options{Clock: clk})
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			_ = factory.Apps().V1().Deployments().Informer().GetIndexer().Add(o)
		case *appsv1.ReplicaSet:
			_ = factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		}
	}
	return &fixture{c: c, client: client, recorder: rec, clock: clk}
}

func (f *fixture) sync(t *testing.T) {
	t.Helper()
	if err := f.c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
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

func (f *fixture) replicaSets(t *testing.T) map[string]*appsv1.ReplicaSet {
	t.Helper()
	l, err := f.client.AppsV1().ReplicaSets("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*appsv1.ReplicaSet{}
	for i := range l.Items {
		out[l.Items[i].Name] = &l.Items[i]
	}
	return out
}

func (f *fixture) deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	d, err := f.client.AppsV1().Deployments("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSyncCreatesFirstReplicaSet(t *testing.T) {
	d := newDeployment("web", 3)
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "first"}
	f := newFixture(t, d)
	f.sync(t)

	hash := templateHash(&d.Spec.Template, nil)
	rs := f.replicaSets(t)["web-"+hash]
	if rs == nil {
		t.Fatalf("no ReplicaSet web-%s; have %v", hash, f.replicaSets(t))
	}
	if *rs.Spec.Replicas != 3 || rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Errorf("replicaset spec %+v labels %v", rs.Spec, rs.Labels)
	}
	wantAnn := map[string]string{RevisionAnnotation: "1", DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4", "kubernetes.io/change-cause": "first"}
	for k, v := range wantAnn {
		if rs.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, rs.Annotations[k], v)
		}
	}
	if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID {
		t.Errorf("owner %+v", ref)
	}
	got := f.deployment(t)
	if got.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("deployment revision %q, want 1", got.Annotations[RevisionAnnotation])
	}
	c := getCondition(got.Status, appsv1.DeploymentProgressing)
	if c == nil || c.Reason != reasonNewReplicaSet || c.Message != `Created new replica set "web-`+hash+`"` {
		t.Errorf("progressing condition %+v", c)
	}
	ev := f.events()
	if len(ev) != 1 || ev[0] != "Normal ScalingReplicaSet Scaled up replica set web-"+hash+" from 0 to 3" {
		t.Errorf("events %q", ev)
	}
}

func TestRollingUpdateSteps(t *testing.T) {
	d := newDeployment("web", 3)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: new(intstr.FromInt32(1)), MaxUnavailable: new(intstr.FromInt32(0))}
	d.Spec.Template.Spec.Containers[0].Image = "v2"
	old := rsFor(d, "v1", "1", 3, 3, time.Hour)

	// Step 1: the new ReplicaSet starts at the surge, the old one stays.
	f := newFixture(t, d, old)
	f.sync(t)
	rss := f.replicaSets(t)
	newName := "web-" + templateHash(&d.Spec.Template, nil)
	if n := rss[newName]; n == nil || *n.Spec.Replicas != 1 || n.Annotations[RevisionAnnotation] != "2" {
		t.Fatalf("new replicaset %+v", n)
	}
	if *rss[old.Name].Spec.Replicas != 3 {
		t.Errorf("old scaled to %d before the new pod is available", *rss[old.Name].Spec.Replicas)
	}

	// Step 2: once the new pod is available, one old pod may go.
	fresh := rsFor(d, "v2", "2", 1, 1, time.Minute)
	f = newFixture(t, d, old, fresh)
	f.sync(t)
	if n := *f.replicaSets(t)[old.Name].Spec.Replicas; n != 2 {
		t.Errorf("old replicaset at %d, want 2", n)
	}
	ev := f.events()
	if len(ev) != 1 || ev[0] != "Normal ScalingReplicaSet Scaled down replica set "+old.Name+" from 3 to 2" {
		t.Errorf("events %q", ev)
	}
}

func TestRollbackReusesOldReplicaSet(t *testing.T) {
	d := newDeployment("web", 3)
	v1 := rsFor(d, "v1", "1", 0, 0, 2*time.Hour)
	v2 := rsFor(d, "v2", "2", 3, 3, time.Hour)
	// kubectl rollout undo put the v1 template back on the Deployment.
	f := newFixture(t, d, v1, v2)
	f.sync(t)
	got := f.replicaSets(t)[v1.Name]
	if got.Annotations[RevisionAnnotation] != "3" || got.Annotations[RevisionHistoryAnnotation] != "1" {
		t.Errorf("rolled-back replicaset annotations %v, want revision 3, history 1", got.Annotations)
	}
	if len(f.replicaSets(t)) != 2 {
		t.Errorf("a new ReplicaSet was created: %v", f.replicaSets(t))
	}
}

func TestProportionalScaling(t *testing.T) {
	d := newDeployment("web", 15)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: new(intstr.FromInt32(3)), MaxUnavailable: new(intstr.FromInt32(2))}
	d.Spec.Template.Spec.Containers[0].Image = "v2"
	// Mid-rollout at 10 replicas (max 13): 8 old, 5 new.
	old := rsFor(d, "v1", "1", 8, 8, time.Hour)
	fresh := rsFor(d, "v2", "2", 5, 0, time.Minute)
	for _, rs := range []*appsv1.ReplicaSet{old, fresh} {
		rs.Annotations[DesiredReplicasAnnotation] = "10"
		rs.Annotations[MaxReplicasAnnotation] = "13"
	}
	f := newFixture(t, d, old, fresh)
	f.sync(t)
	rss := f.replicaSets(t)
	// 18 allowed: 8*18/13 = 11.08 -> 11 (+3), 5*18/13 = 6.9 -> 7 (+2).
	if o, n := *rss[old.Name].Spec.Replicas, *rss[fresh.Name].Spec.Replicas; o != 11 || n != 7 {
		t.Errorf("old %d new %d, want 11 and 7", o, n)
	}
	if rss[old.Name].Annotations[DesiredReplicasAnnotation] != "15" || rss[fresh.Name].Annotations[MaxReplicasAnnotation] != "18" {
		t.Errorf("replica annotations not updated: %v", rss[old.Name].Annotations)
	}
}

func TestCleanupPastRevisionHistoryLimit(t *testing.T) {
	d := newDeployment("web", 3)
	d.Spec.RevisionHistoryLimit = new(int32(1))
	cur := rsFor(d, "v1", "4", 3, 3, time.Minute)
	cur.Annotations[DesiredReplicasAnnotation] = "3"
	olds := []*appsv1.ReplicaSet{rsFor(d, "v0", "1", 0, 0, 4*time.Hour), rsFor(d, "va", "2", 0, 0, 3*time.Hour), rsFor(d, "vb", "3", 0, 0, 2*time.Hour)}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3, ReadyReplicas: 3}
	f := newFixture(t, d, cur, olds[0], olds[1], olds[2])
	f.sync(t)
	rss := f.replicaSets(t)
	if len(rss) != 2 || rss[olds[2].Name] == nil || rss[cur.Name] == nil {
		t.Errorf("left %d replicasets, want the current and revision 3", len(rss))
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	d := newDeployment("web", 3)
	d.Spec.ProgressDeadlineSeconds = new(int32(60))
	cur := rsFor(d, "v1", "1", 3, 0, time.Hour)
	cur.Annotations[DesiredReplicasAnnotation] = "3"
	old := metav1.NewTime(t0.Add(-2 * time.Minute))
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, UnavailableReplicas: 3,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue,
			Reason: reasonReplicaSetUpdated, Message: `ReplicaSet "` + cur.Name + `" is progressing.`, LastUpdateTime: old, LastTransitionTime: old}}}
	f := newFixture(t, d, cur)
	f.sync(t)
	got := f.deployment(t)
	c := getCondition(got.Status, appsv1.DeploymentProgressing)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != reasonTimedOut || c.Message != `ReplicaSet "`+cur.Name+`" has timed out progressing.` {
		t.Errorf("progressing %+v", c)
	}
	a := getCondition(got.Status, appsv1.DeploymentAvailable)
	if a == nil || a.Status != corev1.ConditionFalse || a.Reason != reasonMinimumUnavailable || a.Message != "Deployment does not have minimum availability." {
		t.Errorf("available %+v", a)
	}
}

func TestPauseAndResumeConditions(t *testing.T) {
	d := newDeployment("web", 3)
	d.Spec.Paused = true
	d.Spec.Template.Spec.Containers[0].Image = "v2"
	cur := rsFor(d, "v1", "1", 3, 3, time.Hour)
	cur.Annotations[DesiredReplicasAnnotation] = "3"
	f := newFixture(t, d, cur)
	f.sync(t)
	got := f.deployment(t)
	c := getCondition(got.Status, appsv1.DeploymentProgressing)
	if c == nil || c.Status != corev1.ConditionUnknown || c.Reason != reasonPaused || c.Message != "Deployment is paused" {
		t.Errorf("progressing %+v", c)
	}
	if len(f.replicaSets(t)) != 1 {
		t.Error("paused deployment rolled out a new ReplicaSet")
	}

	got.Spec.Paused = false
	f = newFixture(t, got, cur)
	f.sync(t)
	c = getCondition(f.deployment(t).Status, appsv1.DeploymentProgressing)
	// Resuming records DeploymentResumed, then the rollout creates the new
	// ReplicaSet and says so.
	if c == nil || c.Reason != reasonNewReplicaSet {
		t.Errorf("progressing after resume %+v", c)
	}
	found := false
	for _, a := range f.client.Actions() {
		if u, ok := a.(k8stesting.UpdateAction); ok && u.GetSubresource() == "status" {
			if pc := getCondition(u.GetObject().(*appsv1.Deployment).Status, appsv1.DeploymentProgressing); pc != nil && pc.Reason == reasonResumed {
				found = strings.Contains(pc.Message, "resumed")
			}
		}
	}
	if !found {
		t.Error("no DeploymentResumed condition written")
	}
}

func TestRecreateWaitsForOldPods(t *testing.T) {
	d := newDeployment("web", 2)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	d.Spec.Template.Spec.Containers[0].Image = "v2"
	old := rsFor(d, "v1", "1", 0, 0, time.Hour)
	old.Status.Replicas = 0
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"app": "web"},
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(old, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	f := newFixture(t, d, old, pod)
	f.sync(t)
	if len(f.replicaSets(t)) != 1 {
		t.Fatal("new ReplicaSet created while an old pod runs")
	}
	f = newFixture(t, d, old)
	f.sync(t)
	rss := f.replicaSets(t)
	newName := "web-" + templateHash(&d.Spec.Template, nil)
	if rss[newName] == nil || *rss[newName].Spec.Replicas != 2 {
		t.Errorf("new replicaset %+v", rss[newName])
	}
}
