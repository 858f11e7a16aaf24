//go:build integration

package garbagecollector_test

import (
	"context"
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"skiff.dev/skiff/internal/controller/garbagecollector"
	"skiff.dev/skiff/internal/controller/namespace"
	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/testserver"
)

// eventually polls cond (testserver.Poll) until it holds or 30s pass.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	testserver.Poll(t, 30*time.Second, what, func() error {
		ok, err := cond()
		switch {
		case ok:
			return nil
		case err == nil:
			return errors.New("not yet")
		}
		return err
	})
}

func gone(get func() error) func() (bool, error) {
	return func() (bool, error) {
		err := get()
		return apierrors.IsNotFound(err), err
	}
}

func ownerRef(cm *corev1.ConfigMap, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: cm.Name, UID: cm.UID, BlockOwnerDeletion: &block}
}

func TestGarbageCollectionAndNamespaceDeletion(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	md := metadata.NewForConfigOrDie(s.Config)
	gc := garbagecollector.New(md, s.Client.Discovery(), garbagecollector.Options{DiscoveryPeriod: time.Second, Options: queue.Options{Workers: 2}})
	factory := informers.NewSharedInformerFactory(s.Client, 0)
	nsc := namespace.New(s.Client, md, factory, namespace.Options{FinalizerEstimate: 2 * time.Second, Options: queue.Options{Workers: 1}})
	factory.Start(ctx.Done())
	done := make(chan struct{}, 2)
	go func() { gc.Run(ctx); done <- struct{}{} }()
	go func() { nsc.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		factory.Shutdown()
	})

	cms := s.Client.CoreV1().ConfigMaps("default")
	create := func(t *testing.T, name string, owners ...metav1.OwnerReference) *corev1.ConfigMap {
		t.Helper()
		cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: owners}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		return cm
	}
	getErr := func(name string) func() error {
		return func() error { _, err := cms.Get(ctx, name, metav1.GetOptions{}); return err }
	}
	del := func(t *testing.T, name string, policy metav1.DeletionPropagation) {
		t.Helper()
		if err := cms.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}

	t.Run("background", func(t *testing.T) {
		owner := create(t, "bg-owner")
		create(t, "bg-dependent", ownerRef(owner, false))
		del(t, "bg-owner", metav1.DeletePropagationBackground)
		eventually(t, "dependent deleted after its owner", gone(getErr("bg-dependent")))
	})

	t.Run("dangling owner reference", func(t *testing.T) {
		create(t, "dangling", metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "never", UID: types.UID("no-such-uid")})
		eventually(t, "object with a missing owner deleted", gone(getErr("dangling")))
	})

	t.Run("live owner keeps its dependent", func(t *testing.T) {
		owner := create(t, "live-owner")
		create(t, "live-dependent", ownerRef(owner, false),
			metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "never", UID: types.UID("missing-uid")})
		eventually(t, "reference to the missing owner removed", func() (bool, error) {
			cm, err := cms.Get(ctx, "live-dependent", metav1.GetOptions{})
			return err == nil && len(cm.OwnerReferences) == 1 && cm.OwnerReferences[0].UID == owner.UID, err
		})
	})

	t.Run("foreground", func(t *testing.T) {
		owner := create(t, "fg-owner")
		dep, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name: "fg-dependent", OwnerReferences: []metav1.OwnerReference{ownerRef(owner, true)},
			Finalizers: []string{"example.com/hold"},
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		del(t, "fg-owner", metav1.DeletePropagationForeground)
		eventually(t, "dependent being deleted", func() (bool, error) {
			cm, err := cms.Get(ctx, dep.Name, metav1.GetOptions{})
			return err == nil && cm.DeletionTimestamp != nil, err
		})
		// The owner waits for its blocking dependent.
		o, err := cms.Get(ctx, "fg-owner", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("owner gone while its dependent remains: %v", err)
		}
		if o.DeletionTimestamp == nil || len(o.Finalizers) != 1 || o.Finalizers[0] != metav1.FinalizerDeleteDependents {
			t.Fatalf("owner: deletionTimestamp %v finalizers %v", o.DeletionTimestamp, o.Finalizers)
		}
		// Release the dependent: then both go.
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		if _, err := cms.Patch(ctx, dep.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "dependent deleted", gone(getErr(dep.Name)))
		eventually(t, "owner deleted after its dependent", gone(getErr("fg-owner")))
	})

	t.Run("orphan", func(t *testing.T) {
		owner := create(t, "orphan-owner")
		create(t, "orphan-dependent", ownerRef(owner, true))
		del(t, "orphan-owner", metav1.DeletePropagationOrphan)
		eventually(t, "owner deleted", gone(getErr("orphan-owner")))
		cm, err := cms.Get(ctx, "orphan-dependent", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("orphaned dependent: %v", err)
		}
		if len(cm.OwnerReferences) != 0 {
			t.Errorf("orphaned dependent keeps ownerReferences %v", cm.OwnerReferences)
		}
	})

	t.Run("namespace", func(t *testing.T) {
		testNamespaceDeletion(ctx, t, s.Client)
	})
}

func testNamespaceDeletion(ctx context.Context, t *testing.T, client kubernetes.Interface) {
	const ns = "ml-serving"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, StringData: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "model"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "model"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "server", Image: "model:v1"}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A finalizer on one object makes the namespace wait and report it.
	held, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "held", Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "namespace reports the remaining finalizer", func() (bool, error) {
		n, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NamespaceFinalizersRemaining && c.Status == corev1.ConditionTrue &&
				c.Message == "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances" {
				return n.Status.Phase == corev1.NamespaceTerminating, nil
			}
		}
		return false, nil
	})
	for what, list := range map[string]func() (int, error){
		"configmaps": func() (int, error) {
			l, err := client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
		"secrets": func() (int, error) {
			l, err := client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
		"deployments": func() (int, error) {
			l, err := client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
	} {
		want := 0
		if what == "configmaps" {
			want = 1 // the held one
		}
		eventually(t, what+" deleted", func() (bool, error) {
			n, err := list()
			return n == want, err
		})
	}

	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := client.CoreV1().ConfigMaps(ns).Patch(ctx, held.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "namespace removed", func() (bool, error) {
		_, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
}
