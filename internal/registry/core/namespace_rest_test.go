//go:build integration

package core_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/testserver"
)

// TestNamespaceDeleteAndFinalize follows a namespace through the two-step
// deletion Kubernetes clients expect.
func TestNamespaceDeleteAndFinalize(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nsClient := s.Client.CoreV1().Namespaces()

	ns, err := nsClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.Spec.Finalizers; len(got) != 1 || got[0] != corev1.FinalizerKubernetes {
		t.Fatalf("spec.finalizers = %v, want [kubernetes]", got)
	}

	// The first delete only marks the namespace.
	if err := nsClient.Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	ns, err = nsClient.Get(ctx, "doomed", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace gone after the first delete: %v", err)
	}
	if ns.DeletionTimestamp == nil || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("deletionTimestamp=%v phase=%q, want set and Terminating", ns.DeletionTimestamp, ns.Status.Phase)
	}
	// A second delete changes nothing.
	if err := nsClient.Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	again, err := nsClient.Get(ctx, "doomed", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace gone after the second delete: %v", err)
	}
	if !again.DeletionTimestamp.Equal(ns.DeletionTimestamp) {
		t.Errorf("deletionTimestamp moved from %v to %v", ns.DeletionTimestamp, again.DeletionTimestamp)
	}

	// New content is refused by the NamespaceLifecycle admission.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}}
	want := "unable to create new content in namespace doomed because it is being terminated"
	testserver.Poll(t, 30*time.Second, "create in a terminating namespace refused", func() error {
		_, err := s.Client.CoreV1().ConfigMaps("doomed").Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsForbidden(err) && strings.Contains(err.Error(), want) {
			return nil
		}
		return fmt.Errorf("got %v, want 403 %q", err, want)
	})

	// Namespaces have no deletecollection.
	err = s.Client.CoreV1().RESTClient().Delete().Resource("namespaces").Do(ctx).Error()
	if !apierrors.IsMethodNotSupported(err) {
		t.Errorf("deletecollection of namespaces: got %v, want 405", err)
	}

	// Finalize changes spec.finalizers only; emptying it removes the namespace.
	again.Spec.Finalizers = nil
	again.Status.Phase = corev1.NamespaceActive
	if _, err := nsClient.Finalize(ctx, again, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("finalize: %v", err)
	}
	if _, err := nsClient.Get(ctx, "doomed", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace after finalize: got %v, want NotFound", err)
	}

	// An update of a live namespace keeps spec.finalizers; finalize of a live
	// one changes them without deleting it.
	ns, err = nsClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "live"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns.Spec.Finalizers = nil
	ns, err = nsClient.Update(ctx, ns, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns.Spec.Finalizers) != 1 {
		t.Errorf("update changed spec.finalizers to %v", ns.Spec.Finalizers)
	}
	ns.Spec.Finalizers = []corev1.FinalizerName{"example.com/keep"}
	ns, err = nsClient.Finalize(ctx, ns, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.Spec.Finalizers; len(got) != 1 || got[0] != "example.com/keep" || ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("after finalize: finalizers %v phase %q", got, ns.Status.Phase)
	}
	ns.Spec.Finalizers = []corev1.FinalizerName{"bad"}
	if _, err := nsClient.Finalize(ctx, ns, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("finalize with an unqualified finalizer: got %v, want 422", err)
	}
	// A delete of a namespace whose spec.finalizers are empty still passes
	// through Terminating; the next delete removes it.
	ns, _ = nsClient.Get(ctx, "live", metav1.GetOptions{})
	ns.Spec.Finalizers = nil
	if _, err := nsClient.Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := nsClient.Delete(ctx, "live", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if ns, err := nsClient.Get(ctx, "live", metav1.GetOptions{}); err != nil || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("after the first delete: %v, %v", ns, err)
	}
	if err := nsClient.Delete(ctx, "live", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := nsClient.Get(ctx, "live", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after the second delete: got %v, want NotFound", err)
	}
}
