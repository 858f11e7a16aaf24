package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "restart"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "model:v1"}}},
	}
}

// TestInformerSurvivesRestart keeps a client-go shared informer on pods while
// the server restarts: objects stay, resourceVersions keep increasing, and the
// informer sees pods created after the restart.
func TestInformerSurvivesRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := s.client()

	var mu sync.Mutex
	seen := map[string]bool{}
	factory := informers.NewSharedInformerFactory(client, 0)
	inf := factory.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj interface{}) {
		mu.Lock()
		defer mu.Unlock()
		seen[obj.(*corev1.Pod).Name] = true
	}})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	// Shutdown waits for the informers, which stop only when ctx is done.
	defer func() { cancel(); factory.Shutdown() }()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	waitSeen := func(name string) {
		t.Helper()
		err := poll(50*time.Millisecond, 45*time.Second, func() error {
			mu.Lock()
			defer mu.Unlock()
			if !seen[name] {
				return errors.New("not seen yet")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("informer never saw pod %s", name)
		}
	}

	before, err := client.CoreV1().Pods("default").Create(ctx, testPod("before"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitSeen("before")

	s.restart()

	got, err := client.CoreV1().Pods("default").Get(ctx, "before", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("pod created before the restart: %v", err)
	}
	if got.UID != before.UID {
		t.Errorf("pod UID changed across restart")
	}
	after, err := client.CoreV1().Pods("default").Create(ctx, testPod("after"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rvInt(t, after.ResourceVersion) <= rvInt(t, before.ResourceVersion) {
		t.Errorf("resourceVersion went from %s to %s across restart", before.ResourceVersion, after.ResourceVersion)
	}
	waitSeen("after")
}

func rvInt(t *testing.T, rv string) int64 {
	var n int64
	if _, err := fmt.Sscan(rv, &n); err != nil {
		t.Fatalf("resourceVersion %q: %v", rv, err)
	}
	return n
}
