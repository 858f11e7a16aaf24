//go:build integration

package replicaset_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/controller/replicaset"
	"skiff.dev/skiff/internal/testserver"
)

func TestReplicaSetKeepsReplicas(t *testing.T) {
	s := testserver.Start(t, nil)
	client := s.Client
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	c := replicaset.New(client, factory, broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "replicaset-controller"}), replicaset.Options{Options: queue.Options{Workers: 2}})
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	wg.Go(func() { c.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); broadcaster.Shutdown(); factory.Shutdown() })

	// An orphan that the ReplicaSet will adopt.
	orphan := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "stray", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: new(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
		},
	}
	created, err := client.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	waitPods := func(want int) []corev1.Pod {
		t.Helper()
		var pods []corev1.Pod
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			l, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				return false, err
			}
			got, err := client.AppsV1().ReplicaSets("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			pods = l.Items
			return len(pods) == want && got.Status.Replicas == int32(want) && got.Status.ObservedGeneration == got.Generation, nil
		})
		if err != nil {
			t.Fatalf("waiting for %d pods and status: %v (have %d)", want, err, len(pods))
		}
		return pods
	}

	pods := waitPods(3)
	adopted := false
	for _, p := range pods {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != created.UID {
			t.Errorf("pod %s owner %+v", p.Name, ref)
		}
		if p.Name == "stray" {
			adopted = true
		} else if !strings.HasPrefix(p.Name, "web-") {
			t.Errorf("pod name %q, want web-<suffix>", p.Name)
		}
	}
	if !adopted {
		t.Error("orphan pod not adopted")
	}

	// Scale down to one.
	got, err := client.AppsV1().ReplicaSets("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.Spec.Replicas = new(int32(1))
	if _, err := client.AppsV1().ReplicaSets("default").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPods(1)

	// A deleted pod is replaced.
	pods = waitPods(1)
	if err := client.CoreV1().Pods("default").Delete(ctx, pods[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		return err == nil && len(l.Items) == 1 && l.Items[0].Name != pods[0].Name, err
	})
	if err != nil {
		t.Fatalf("deleted pod not replaced: %v", err)
	}

	// kubectl describe shows what happened.
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		var create, del bool
		for _, e := range evs.Items {
			create = create || (e.Reason == "SuccessfulCreate" && strings.HasPrefix(e.Message, "Created pod: web-"))
			del = del || (e.Reason == "SuccessfulDelete" && strings.HasPrefix(e.Message, "Deleted pod: "))
		}
		return create && del, nil
	})
	if err != nil {
		t.Errorf("SuccessfulCreate/SuccessfulDelete events: %v", err)
	}
}
