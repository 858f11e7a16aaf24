package drain

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/internal/wellknown"
)

// Watcher keeps the EndpointSlices and the service proxies' nodes in
// informer caches and decides on pods from them.
type Watcher struct {
	client kubernetes.Interface
	slices discoverylisters.EndpointSliceLister
	nodes  corelisters.NodeLister
	synced []cache.InformerSynced
}

// NewWatcher returns a Watcher; Start fills its caches.
func NewWatcher(client kubernetes.Interface) *Watcher { return &Watcher{client: client} }

// Start starts the informers; they stop when ctx ends.
func (w *Watcher) Start(ctx context.Context) {
	sliceFactory := informers.NewSharedInformerFactory(w.client, 0)
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(w.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = wellknown.ServiceProxyLabel + "=true"
		}))
	sl := sliceFactory.Discovery().V1().EndpointSlices()
	nl := nodeFactory.Core().V1().Nodes()
	w.slices, w.nodes = sl.Lister(), nl.Lister()
	w.synced = []cache.InformerSynced{sl.Informer().HasSynced, nl.Informer().HasSynced}
	sliceFactory.Start(ctx.Done())
	nodeFactory.Start(ctx.Done())
	go func() {
		<-ctx.Done()
		sliceFactory.Shutdown()
		nodeFactory.Shutdown()
	}()
}

// Decide decides on pod from the caches; until they are synced it waits.
func (w *Watcher) Decide(pod *corev1.Pod) Decision {
	for _, s := range w.synced {
		if !s() {
			return Decision{Wait: true, Reason: "EndpointSlices and nodes not synced yet"}
		}
	}
	sl, err := w.slices.EndpointSlices(pod.Namespace).List(labels.Everything())
	if err != nil {
		return Decision{Wait: true, Reason: fmt.Sprintf("listing EndpointSlices: %v", err)}
	}
	nodes, err := w.nodes.List(labels.Everything())
	if err != nil {
		return Decision{Wait: true, Reason: fmt.Sprintf("listing nodes: %v", err)}
	}
	return Decide(pod, sl, nodes)
}
