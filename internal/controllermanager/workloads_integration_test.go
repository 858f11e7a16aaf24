//go:build integration

package controllermanager_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/controllermanager"
	"skiff.dev/skiff/internal/testserver"
)

// TestWorkloadControllers: with no node agent running, the
// ReplicationController, StatefulSet and DaemonSet controllers create the
// pods they should: an RC's replicas, a Parallel set's pods with stable
// names, hostnames and a ControllerRevision, and a DaemonSet pod pinned by
// node affinity to each node.
func TestWorkloadControllers(t *testing.T) {
	srv := testserver.Start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		_ = controllermanager.Run(ctx, controllermanager.Config{RestConfig: srv.Config, Identity: "test", DisableServiceLB: true})
	}()
	c := srv.Client
	labels := map[string]string{"app": "web"}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
	}
	ownedBy := func(ns, kind string, n int) func() error {
		return func() error {
			pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			got := 0
			for _, p := range pods.Items {
				if ref := metav1.GetControllerOf(&p); ref != nil && ref.Kind == kind {
					got++
				}
			}
			if got != n {
				return fmt.Errorf("%d pods of a %s, want %d", got, kind, n)
			}
			return nil
		}
	}

	for _, ns := range []string{"rc", "sts", "ds"} {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CoreV1().ReplicationControllers("rc").Create(ctx, &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ReplicationControllerSpec{Replicas: new(int32(2)), Template: &tmpl},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "2 pods of the ReplicationController", ownedBy("rc", "ReplicationController", 2))

	if _, err := c.AppsV1().StatefulSets("sts").Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.StatefulSetSpec{Replicas: new(int32(2)), ServiceName: "nginx", PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "2 pods of the StatefulSet", ownedBy("sts", "StatefulSet", 2))
	for _, name := range []string{"web-0", "web-1"} {
		p, err := c.CoreV1().Pods("sts").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec.Hostname != name || p.Spec.Subdomain != "nginx" {
			t.Errorf("%s: hostname %q subdomain %q", name, p.Spec.Hostname, p.Spec.Subdomain)
		}
	}
	testserver.Poll(t, 30*time.Second, "a ControllerRevision of the StatefulSet", func() error {
		revs, err := c.AppsV1().ControllerRevisions("sts").List(ctx, metav1.ListOptions{})
		if err != nil || len(revs.Items) != 1 {
			return fmt.Errorf("revisions %v, %v", revs, err)
		}
		return nil
	})

	if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppsV1().DaemonSets("ds").Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "the DaemonSet's pod for node n1", ownedBy("ds", "DaemonSet", 1))
	pods, err := c.CoreV1().Pods("ds").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := pods.Items[0].Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil ||
		a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0] != "n1" {
		t.Errorf("daemon pod affinity %+v, want metadata.name n1", a)
	}
}
