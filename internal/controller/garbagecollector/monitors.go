package garbagecollector

import (
	"context"
	"log/slog"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/internal/controller/queue"
)

// monitors are the metadata informers of the watched resources, one per
// resource, each with its own stop channel so that a resource that
// disappears from discovery stops being watched.
type monitors struct {
	client  metadata.Interface
	graph   *graph
	resync  time.Duration
	ignored map[schema.GroupResource]bool
	log     *slog.Logger

	mu      sync.Mutex
	running map[schema.GroupVersionResource]*monitor
}

type monitor struct {
	informer cache.SharedIndexInformer
	stop     chan struct{}
}

func newMonitors(client metadata.Interface, g *graph, resync time.Duration, ignored []schema.GroupResource, log *slog.Logger) *monitors {
	m := &monitors{client: client, graph: g, resync: resync, ignored: map[schema.GroupResource]bool{}, log: log,
		running: map[schema.GroupVersionResource]*monitor{}}
	for _, gr := range ignored {
		m.ignored[gr] = true
	}
	return m
}

// sync starts informers for new resources and stops those of resources no
// longer served.
func (m *monitors) sync(kinds map[schema.GroupVersionResource]schema.GroupVersionKind) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for gvr, mon := range m.running {
		if _, ok := kinds[gvr]; !ok {
			close(mon.stop)
			delete(m.running, gvr)
			m.log.Info("stopped watching resource", "resource", gvr.String())
		}
	}
	for gvr, gvk := range kinds {
		if m.ignored[gvr.GroupResource()] || m.running[gvr] != nil {
			continue
		}
		informer := metadatainformer.NewFilteredMetadataInformer(m.client, gvr, metav1.NamespaceAll, m.resync, cache.Indexers{}, nil).Informer()
		_, _ = informer.AddEventHandler(m.handler(gvk))
		mon := &monitor{informer: informer, stop: make(chan struct{})}
		m.running[gvr] = mon
		go informer.Run(mon.stop)
		m.log.Debug("watching resource", "resource", gvr.String())
	}
}

func (m *monitors) handler(gvk schema.GroupVersionKind) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) {
			if o, ok := obj.(metav1.Object); ok {
				m.graph.observe(gvk, o)
			}
		},
		UpdateFunc: func(_, obj interface{}) {
			if o, ok := obj.(metav1.Object); ok {
				m.graph.observe(gvk, o)
			}
		},
		DeleteFunc: func(obj interface{}) {
			if o, ok := queue.Deleted[metav1.Object](obj); ok {
				m.graph.forget(o.GetUID(), false)
			}
		},
	}
}

func (m *monitors) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.running)
}

// waitForSync waits until every informer started so far has synced.
func (m *monitors) waitForSync(ctx context.Context) bool {
	m.mu.Lock()
	synced := make([]cache.InformerSynced, 0, len(m.running))
	for _, mon := range m.running {
		synced = append(synced, mon.informer.HasSynced)
	}
	m.mu.Unlock()
	return cache.WaitForNamedCacheSync("garbage collector", ctx.Done(), synced...)
}

func (m *monitors) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for gvr, mon := range m.running {
		close(mon.stop)
		delete(m.running, gvr)
	}
}
