package controllerref

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	appslisters "k8s.io/client-go/listers/apps/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

var rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

func newRS(namespace, name string, selector *metav1.LabelSelector) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID("uid-" + name)},
		Spec:       appsv1.ReplicaSetSpec{Selector: selector},
	}
}

func selectApp(app string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
}

type podOpt func(*corev1.Pod)

func newPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: "ns", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"},
	}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func controlledBy(uid types.UID) podOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: uid, Controller: new(true),
		}}
	}
}

func labeled(app string) podOpt {
	return func(p *corev1.Pod) { p.Labels = map[string]string{"app": app} }
}

func inNamespace(ns string) podOpt { return func(p *corev1.Pod) { p.Namespace = ns } }

func terminating(p *corev1.Pod) { p.DeletionTimestamp = new(metav1.Now()) }

func TestPatches(t *testing.T) {
	owner := newRS("ns", "web", nil)
	if got, want := string(AdoptPatch(metav1.NewControllerRef(owner, rsKind), "uid-p")),
		`{"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"uid-web","controller":true,"blockOwnerDeletion":true}],"uid":"uid-p"}}`; got != want {
		t.Errorf("AdoptPatch\n got %s\nwant %s", got, want)
	}
	if got, want := string(ReleasePatch("uid-web", "uid-p")),
		`{"metadata":{"ownerReferences":[{"$patch":"delete","uid":"uid-web"}],"uid":"uid-p"}}`; got != want {
		t.Errorf("ReleasePatch\n got %s\nwant %s", got, want)
	}
}

func TestClaim(t *testing.T) {
	const ownerUID = types.UID("uid-web")
	owned, stray := controlledBy(ownerUID), []podOpt{controlledBy(ownerUID), labeled("other")}
	theirs := controlledBy("uid-someone-else")
	adopt := func(pod string) string {
		return string(AdoptPatch(metav1.NewControllerRef(newRS("ns", "web", nil), rsKind), types.UID("uid-"+pod)))
	}
	release := func(pod string) string { return string(ReleasePatch(ownerUID, types.UID("uid-"+pod))) }
	tests := []struct {
		name string
		// ownerDeleting marks the cached owner as being deleted.
		ownerDeleting bool
		// live is the API server's owner: nil means the cached one; a
		// function changes a copy of it, or returns nil for none.
		live func(*appsv1.ReplicaSet) *appsv1.ReplicaSet
		pods []*corev1.Pod
		// missing names the pods that the API server no longer has.
		missing []string
		// failPatch names the pods whose patch fails with a conflict.
		failPatch   []string
		wantOwned   []string
		wantPatches map[string]string
		wantGets    int
		wantErr     []string
	}{{
		name:        "adopts a matching orphan after one uncached read of the owner",
		pods:        []*corev1.Pod{newPod("a"), newPod("b")},
		wantOwned:   []string{"a", "b"},
		wantPatches: map[string]string{"a": adopt("a"), "b": adopt("b")},
		wantGets:    1,
	}, {
		name:      "keeps what it controls and selects",
		pods:      []*corev1.Pod{newPod("mine", owned)},
		wantOwned: []string{"mine"},
	}, {
		name:        "releases what it controls and no longer selects",
		pods:        []*corev1.Pod{newPod("mine", owned), newPod("stray", stray...)},
		wantOwned:   []string{"mine"},
		wantPatches: map[string]string{"stray": release("stray")},
	}, {
		name: "ignores another controller's objects, selected or not",
		pods: []*corev1.Pod{newPod("theirs", theirs), newPod("theirs-other", theirs, labeled("other"))},
	}, {
		name: "ignores orphans it does not select or that are being deleted",
		pods: []*corev1.Pod{newPod("other", labeled("other")), newPod("going", terminating)},
	}, {
		name: "ignores objects of other namespaces",
		pods: []*corev1.Pod{newPod("orphan", inNamespace("elsewhere")), newPod("stray", append(stray, inNamespace("elsewhere"))...)},
	}, {
		name:          "an owner being deleted keeps what it has but neither adopts nor releases",
		ownerDeleting: true,
		pods:          []*corev1.Pod{newPod("mine", owned), newPod("orphan"), newPod("stray", stray...)},
		wantOwned:     []string{"mine"},
	}, {
		name:      "no adoption when the owner is gone from the API server",
		live:      func(*appsv1.ReplicaSet) *appsv1.ReplicaSet { return nil },
		pods:      []*corev1.Pod{newPod("mine", owned), newPod("a"), newPod("b")},
		wantOwned: []string{"mine"},
		wantGets:  1,
		wantErr:   []string{"replicaset ns/web: checking before adoption: ", "not found"},
	}, {
		name: "no adoption when the owner was re-created under its name",
		live: func(rs *appsv1.ReplicaSet) *appsv1.ReplicaSet {
			rs.UID = "uid-new"
			return rs
		},
		pods:     []*corev1.Pod{newPod("a")},
		wantGets: 1,
		wantErr:  []string{"replicaset ns/web: original ReplicaSet is gone: got uid uid-new, wanted uid-web"},
	}, {
		name: "no adoption when the owner has just been deleted",
		live: func(rs *appsv1.ReplicaSet) *appsv1.ReplicaSet {
			rs.DeletionTimestamp = new(metav1.Now())
			rs.Finalizers = []string{"keep"}
			return rs
		},
		pods:     []*corev1.Pod{newPod("a")},
		wantGets: 1,
		wantErr:  []string{"replicaset ns/web: ReplicaSet has just been deleted at "},
	}, {
		name:        "an object gone by its patch is left out without an error",
		pods:        []*corev1.Pod{newPod("gone"), newPod("stray-gone", stray...), newPod("a")},
		missing:     []string{"gone", "stray-gone"},
		wantOwned:   []string{"a"},
		wantPatches: map[string]string{"gone": adopt("gone"), "stray-gone": release("stray-gone"), "a": adopt("a")},
		wantGets:    1,
	}, {
		name:        "a failed patch is an error and the others go on",
		pods:        []*corev1.Pod{newPod("bad"), newPod("stray", stray...), newPod("good")},
		failPatch:   []string{"bad", "stray"},
		wantOwned:   []string{"good"},
		wantPatches: map[string]string{"bad": adopt("bad"), "stray": release("stray"), "good": adopt("good")},
		wantGets:    1,
		wantErr:     []string{"replicaset ns/web: adopting pod bad: ", "replicaset ns/web: releasing pod stray: "},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owner := newRS("ns", "web", selectApp("web"))
			var objs []runtime.Object
			live := owner.DeepCopy()
			if tt.live != nil {
				live = tt.live(live)
			}
			if live != nil {
				objs = append(objs, live)
			}
			if tt.ownerDeleting {
				owner.DeletionTimestamp = new(metav1.Now())
			}
			for _, p := range tt.pods {
				if !slices.Contains(tt.missing, p.Name) {
					objs = append(objs, p.DeepCopy())
				}
			}
			client := fake.NewClientset(objs...)
			client.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				name := a.(k8stesting.PatchAction).GetName()
				if slices.Contains(tt.failPatch, name) {
					return true, nil, apierrors.NewConflict(corev1.Resource("pods"), name, nil)
				}
				return false, nil, nil
			})
			sel, err := metav1.LabelSelectorAsSelector(owner.Spec.Selector)
			if err != nil {
				t.Fatal(err)
			}
			claimer := Claimer[*appsv1.ReplicaSet, *corev1.Pod]{
				Owner:       owner,
				Kind:        rsKind,
				Selector:    sel,
				OwnerClient: client.AppsV1().ReplicaSets("ns"),
				ChildClient: client.CoreV1().Pods("ns"),
				ChildKind:   "pod",
			}
			got, err := claimer.Claim(context.Background(), tt.pods)

			var gotNames []string
			for _, p := range got {
				gotNames = append(gotNames, p.Name)
			}
			if !slices.Equal(gotNames, tt.wantOwned) {
				t.Errorf("owned %v, want %v", gotNames, tt.wantOwned)
			}
			switch {
			case len(tt.wantErr) == 0 && err != nil:
				t.Errorf("error %v", err)
			case len(tt.wantErr) > 0 && err == nil:
				t.Errorf("no error, want %q", tt.wantErr)
			case err != nil:
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q, want it to contain %q", err, w)
					}
				}
			}
			if len(tt.failPatch) > 0 && !apierrors.IsConflict(err) {
				t.Errorf("error %v does not wrap the API error", err)
			}

			patches := map[string]string{}
			gets := 0
			for _, a := range client.Actions() {
				switch {
				case a.GetVerb() == "patch":
					pa := a.(k8stesting.PatchAction)
					if pa.GetPatchType() != types.StrategicMergePatchType || pa.GetNamespace() != "ns" {
						t.Errorf("patch of %s/%s of type %s", pa.GetNamespace(), pa.GetName(), pa.GetPatchType())
					}
					patches[pa.GetName()] = string(pa.GetPatch())
				case a.GetVerb() == "get" && a.GetResource().Resource == "replicasets":
					gets++
				default:
					t.Errorf("unexpected action %s %s", a.GetVerb(), a.GetResource().Resource)
				}
			}
			if len(patches) != len(tt.wantPatches) {
				t.Errorf("patched %v, want %v", patches, tt.wantPatches)
			}
			for name, want := range tt.wantPatches {
				if patches[name] != want {
					t.Errorf("patch of %s\n got %s\nwant %s", name, patches[name], want)
				}
			}
			if gets != tt.wantGets {
				t.Errorf("%d uncached reads of the owner, want %d", gets, tt.wantGets)
			}

			// The patches did what they say on the API server's objects.
			for name := range tt.wantPatches {
				if slices.Contains(tt.missing, name) || slices.Contains(tt.failPatch, name) {
					continue
				}
				p, err := client.CoreV1().Pods("ns").Get(context.Background(), name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				ref := metav1.GetControllerOf(p)
				adopted := ref != nil && ref.UID == ownerUID
				if wantAdopted := slices.Contains(tt.wantOwned, name); adopted != wantAdopted {
					t.Errorf("pod %s controller %+v after the claim, adopted = %v", name, ref, wantAdopted)
				}
			}
		})
	}
}

func TestOwners(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, rs := range []*appsv1.ReplicaSet{
		newRS("ns", "web", selectApp("web")),
		newRS("ns", "db", selectApp("db")),
		newRS("ns", "all", &metav1.LabelSelector{}),
		newRS("ns", "none", nil),
		newRS("ns", "invalid", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}),
		newRS("elsewhere", "web-elsewhere", selectApp("web")),
	} {
		if err := indexer.Add(rs); err != nil {
			t.Fatal(err)
		}
	}
	lister := appslisters.NewReplicaSetLister(indexer)
	owners := Owners[*appsv1.ReplicaSet]{
		Kind:     rsKind,
		Lister:   func(ns string) Lister[*appsv1.ReplicaSet] { return lister.ReplicaSets(ns) },
		Selector: func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.Spec.Selector },
	}

	ref := func(apiVersion, kind, name string, uid types.UID) *metav1.OwnerReference {
		return &metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: new(true)}
	}
	resolve := []struct {
		name      string
		namespace string
		ref       *metav1.OwnerReference
		want      string
	}{
		{"the controller named", "ns", ref("apps/v1", "ReplicaSet", "web", "uid-web"), "web"},
		{"no controller", "ns", nil, ""},
		{"another kind", "ns", ref("apps/v1", "Deployment", "web", "uid-web"), ""},
		{"another version", "ns", ref("extensions/v1beta1", "ReplicaSet", "web", "uid-web"), ""},
		{"not in the cache", "ns", ref("apps/v1", "ReplicaSet", "gone", "uid-gone"), ""},
		{"another object under that name", "ns", ref("apps/v1", "ReplicaSet", "web", "uid-old"), ""},
		{"only in its own namespace", "elsewhere", ref("apps/v1", "ReplicaSet", "web", "uid-web"), ""},
	}
	for _, tt := range resolve {
		t.Run("Resolve/"+tt.name, func(t *testing.T) {
			got, ok := owners.Resolve(tt.namespace, tt.ref)
			switch {
			case ok != (tt.want != ""):
				t.Errorf("ok = %v, want %q", ok, tt.want)
			case ok && got.Name != tt.want:
				t.Errorf("resolved %s, want %s", got.Name, tt.want)
			case !ok && got != nil:
				t.Errorf("resolved %s with ok = false", got.Name)
			}
		})
	}

	matching := []struct {
		name string
		pod  *corev1.Pod
		want []string
	}{
		{"selectors that select it, not empty or invalid ones", newPod("p"), []string{"web"}},
		{"another app", newPod("p", labeled("db")), []string{"db"}},
		{"no labels", newPod("p", func(p *corev1.Pod) { p.Labels = nil }), nil},
		{"only in its own namespace", newPod("p", inNamespace("elsewhere")), []string{"web-elsewhere"}},
		{"no controllers there", newPod("p", inNamespace("empty")), nil},
	}
	for _, tt := range matching {
		t.Run("Matching/"+tt.name, func(t *testing.T) {
			var got []string
			for _, rs := range owners.Matching(tt.pod) {
				got = append(got, rs.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("matching %v, want %v", got, tt.want)
			}
		})
	}
}
