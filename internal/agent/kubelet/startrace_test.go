//go:build integration

package kubelet

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/agent/runtime/fake"
)

// slowStart is the fake runtime with a StartContainer that returns only
// after a relist has listed the container while it was still Created, as
// containerd's slower start lets happen.
type slowStart struct {
	*fake.Runtime
	lists atomic.Int64
}

func (s *slowStart) ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	if filter == nil {
		s.lists.Add(1)
	}
	return s.Runtime.ListContainers(ctx, filter)
}

func (s *slowStart) StartContainer(ctx context.Context, id string) error {
	// Two relists: the second began after the container was created.
	want := s.lists.Load() + 2
	for s.lists.Load() < want && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	return s.Runtime.StartContainer(ctx, id)
}

// TestStartRacesRelist: a relist that caches a container as Created while
// it is being started must not make the next sync start it a second time.
func TestStartRacesRelist(t *testing.T) {
	var rt *slowStart
	e := startKubelet(t, func(cfg *Config) {
		cfg.NewRuntime = func(_ context.Context, cidr netip.Prefix) (runtime.Runtime, error) {
			rt = &slowStart{Runtime: fake.New()}
			rt.SetPodCIDR(cidr)
			return rt, nil
		}
	})
	e.createPod(t, simplePod("web", corev1.Container{Name: "app", Image: "skiff/app:v1"}))
	e.waitPod(t, "web", "Running and Ready", runningAndReady)
	e.waitSyncs(t, 3)
	created := 0
	for _, c := range rt.Calls() {
		if strings.HasPrefix(c, "CreateContainer app") {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("the container was created %d times, want once; calls:\n%s", created, strings.Join(rt.Calls(), "\n"))
	}
	p, err := e.getPod("web")
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Status.ContainerStatuses[0].RestartCount; n != 0 {
		t.Fatalf("restart count %d, want 0: %s", n, fmt.Sprint(describeStatuses(p)))
	}
}
