//go:build integration

package process

import (
	"context"
	"testing"
)

// BenchmarkPodStart measures a pod from RunPodSandbox to a running
// container, and its removal.
func BenchmarkPodStart(b *testing.B) {
	e := newTestRuntime(b)
	ctx := context.Background()
	for b.Loop() {
		sid, sc := e.sandbox(b, "bench")
		cid, err := e.r.CreateContainer(ctx, sid, containerConfig("c", "exec "+busybox+" sleep 100"), sc)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.r.StartContainer(ctx, cid); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := e.r.RemovePodSandbox(ctx, sid); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
