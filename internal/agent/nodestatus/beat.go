package nodestatus

import (
	"context"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Beat is what a node's heartbeat keeps between beats, for the kubelet and
// the hollow nodes alike: the Node's UID (the Lease's owner), the Lease last
// written, and when the status was last reported. It is safe for
// concurrent use.
type Beat struct {
	mu         sync.Mutex
	uid        types.UID
	lease      *coordinationv1.Lease
	lastReport time.Time
}

// Registered records the Node the API server holds, reported at now.
func (b *Beat) Registered(node *corev1.Node, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.uid, b.lastReport = node.UID, now
}

// RenewLease renews, or creates, the Lease of the node called name (see
// the function RenewLease) and keeps it for the next renewal.
func (b *Beat) RenewLease(ctx context.Context, client kubernetes.Interface, name string, duration time.Duration, now time.Time) error {
	b.mu.Lock()
	prev, uid := b.lease, b.uid
	b.mu.Unlock()
	lease, err := RenewLease(ctx, client, prev, name, uid, duration, now)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.lease = lease
	b.mu.Unlock()
	return nil
}

// Due reports whether the last status report is every or longer ago.
func (b *Beat) Due(now time.Time, every time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return now.Sub(b.lastReport) >= every
}

// Reported records a status report at now.
func (b *Beat) Reported(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastReport = now
}
