package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/wellknown"
)

// DefaultAckInterval is the least time between two writes of the
// acknowledged revision.
const DefaultAckInterval = 50 * time.Millisecond

// acker writes the EndpointSlice revision the proxy has programmed into
// its Node's wellknown.ServiceProxySyncedAnnotation (see package drain for
// who reads it), at most once per interval and only when it grew.
type acker struct {
	client   kubernetes.Interface
	node     string
	interval time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	want  int64
	wrote int64
	wake  chan struct{}
}

func newAcker(client kubernetes.Interface, node string, interval time.Duration, log *slog.Logger) *acker {
	return &acker{client: client, node: node, interval: interval, log: log, wake: make(chan struct{}, 1)}
}

// set records that revision rv is in the kernel.
func (a *acker) set(rv int64) {
	a.mu.Lock()
	grew := rv > a.want
	if grew {
		a.want = rv
	}
	a.mu.Unlock()
	if grew {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// run writes the revision until ctx ends.
func (a *acker) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		}
		a.mu.Lock()
		rv, wrote := a.want, a.wrote
		a.mu.Unlock()
		if rv > wrote {
			if err := a.write(ctx, strconv.FormatInt(rv, 10)); err != nil {
				if ctx.Err() != nil {
					return
				}
				a.log.Warn("acknowledging the programmed EndpointSlice revision", "revision", rv, "err", err)
				// Try again after the interval.
				select {
				case a.wake <- struct{}{}:
				default:
				}
			} else {
				a.mu.Lock()
				a.wrote = rv
				a.mu.Unlock()
			}
		}
		t := time.NewTimer(a.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// write patches the annotation; value "" removes it.
func (a *acker) write(ctx context.Context, value string) error {
	v := "null"
	if value != "" {
		v = strconv.Quote(value)
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%s}}}`, wellknown.ServiceProxySyncedAnnotation, v)
	if _, err := a.client.CoreV1().Nodes().Patch(ctx, a.node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("node %s: %w", a.node, err)
	}
	return nil
}

// sliceRevision is obj's resourceVersion as an etcd revision (0 when it is
// not one).
func sliceRevision(obj metav1.Object) int64 {
	rv, err := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
	if err != nil {
		return 0
	}
	return rv
}
