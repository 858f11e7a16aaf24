package plugins_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

func volumeBinding(t *testing.T, objs ...any) plugins.VolumeBinding {
	t.Helper()
	idx := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	claims, volumes, classes := idx(), idx(), idx()
	for _, o := range objs {
		var err error
		switch o.(type) {
		case *corev1.PersistentVolumeClaim:
			err = claims.Add(o)
		case *corev1.PersistentVolume:
			err = volumes.Add(o)
		case *storagev1.StorageClass:
			err = classes.Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return plugins.VolumeBinding{Claims: corelisters.NewPersistentVolumeClaimLister(claims),
		Volumes: corelisters.NewPersistentVolumeLister(volumes), Classes: storagelisters.NewStorageClassLister(classes)}
}

func podWithClaims(claims ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	for _, c := range claims {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: c, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c}}})
	}
	return p
}

func TestVolumeBindingFilter(t *testing.T) {
	wffc, immediate := storagev1.VolumeBindingWaitForFirstConsumer, storagev1.VolumeBindingImmediate
	className := func(s string) *string { return &s }
	now := metav1.NewTime(time.Now())
	node := func(host string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: host, Labels: map[string]string{corev1.LabelHostname: host}}}
	}
	pinned := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}, Spec: corev1.PersistentVolumeSpec{
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}}}}}}}}
	vb := volumeBinding(t,
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-path"}, VolumeBindingMode: &wffc},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "now"}, VolumeBindingMode: &immediate},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bound"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv1"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "waiting"}, Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: className("local-path")}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "immediate"}, Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: className("now")}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "noclass"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "dangling"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "gone"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "deleting", DeletionTimestamp: &now, Finalizers: []string{"kubernetes.io/pvc-protection"}},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: className("local-path")}},
		pinned,
	)
	runFilterCases(t, vb, []filterCase{
		{name: "no claims", node: node("n2"), pod: podWithClaims()},
		{name: "bound to a volume of this node", node: node("n1"), pod: podWithClaims("bound")},
		{name: "bound to a volume of another node", node: node("n2"), pod: podWithClaims("bound"), want: []string{plugins.ReasonVolumeNodeAffinityConflict}},
		{name: "WaitForFirstConsumer fits anywhere", node: node("n2"), pod: podWithClaims("waiting")},
		{name: "bound and waiting", node: node("n2"), pod: podWithClaims("waiting", "bound"), want: []string{plugins.ReasonVolumeNodeAffinityConflict}},
		{name: "unbound immediate", node: node("n1"), pod: podWithClaims("immediate"), want: []string{plugins.ReasonUnboundImmediateClaims}},
		{name: "unbound without class", node: node("n1"), pod: podWithClaims("noclass"), want: []string{plugins.ReasonUnboundImmediateClaims}},
		{name: "missing claim", node: node("n1"), pod: podWithClaims("nope"), want: []string{`persistentvolumeclaim "nope" not found`}},
		{name: "claim being deleted", node: node("n1"), pod: podWithClaims("deleting"), want: []string{`persistentvolumeclaim "deleting" is being deleted`}},
		{name: "volume missing", node: node("n1"), pod: podWithClaims("dangling"),
			want: []string{`persistentvolume "gone" bound to persistentvolumeclaim "dangling" not found`}},
	})

	delayed, err := vb.DelayedClaims(podWithClaims("bound", "waiting"))
	if err != nil || len(delayed) != 1 || delayed[0].Name != "waiting" {
		t.Fatalf("DelayedClaims = %v, %v; want [waiting]", delayed, err)
	}
}

func TestClaimNames(t *testing.T) {
	p := podWithClaims("a")
	p.Spec.Volumes = append(p.Spec.Volumes,
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
		corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	if got := plugins.ClaimNames(p); len(got) != 2 || got[0] != "a" || got[1] != "p-scratch" {
		t.Fatalf("ClaimNames = %q", got)
	}
}
