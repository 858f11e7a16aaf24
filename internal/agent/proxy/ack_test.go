package proxy

import (
	"context"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"skiff.dev/skiff/internal/wellknown"
)

func TestAckerWritesTheNewestRevision(t *testing.T) {
	client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}})
	a := newAcker(client, "node-a", time.Millisecond, slog.Default())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.run(ctx) }()
	defer func() { cancel(); <-done }()
	acked := func() string {
		n, err := client.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return n.Annotations[wellknown.ServiceProxySyncedAnnotation]
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for acked() != want {
			if time.Now().After(deadline) {
				t.Fatalf("annotation %q, want %q", acked(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	a.set(7)
	waitFor("7")
	a.set(5) // older: ignored
	a.set(12)
	waitFor("12")
	writes := 0
	for _, act := range client.Actions() {
		if act.GetVerb() == "patch" {
			writes++
		}
	}
	if writes > 2 {
		t.Errorf("%d patches for two new revisions, want at most 2", writes)
	}
}

func TestSliceRevision(t *testing.T) {
	for rv, want := range map[string]int64{"": 0, "42": 42, "x": 0} {
		if got := sliceRevision(&metav1.ObjectMeta{ResourceVersion: rv}); got != want {
			t.Errorf("sliceRevision(%q) = %d, want %d", rv, got, want)
		}
	}
}
