// Package garbagecollector deletes objects whose owners are gone, as
// Kubernetes' garbage collector does. It watches, through metadata-only
// informers, every served resource that supports list, watch and delete
// (rediscovered periodically), keeps a graph of ownerReferences, and:
//
//   - background: an object all of whose owners are gone (checked by UID
//     against the live object) is deleted; owners that are gone are removed
//     from the references of an object that still has a live owner;
//   - foreground: an owner being deleted with the foregroundDeletion
//     finalizer has its dependents deleted; the finalizer is removed once
//     no dependent with blockOwnerDeletion remains;
//   - orphan: an owner being deleted with the orphan finalizer has its
//     references removed from its dependents, then the finalizer.
//
// The API server adds the finalizers from the delete's propagationPolicy.
package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/workqueue"

	"skiff.dev/skiff/internal/controller/queue"
)

// Options tunes the garbage collector; zero values mean Kubernetes'
// defaults.
type Options struct {
	// Options are the worker count (default 20) and the logger.
	queue.Options
	// DiscoveryPeriod is how often served resources are rediscovered, to
	// watch new ones and stop watching removed ones. Defaults to 30s.
	DiscoveryPeriod time.Duration
	// ResyncPeriod of the metadata informers; zero means none.
	ResyncPeriod time.Duration
	// IgnoredResources are never watched; defaults to the core and
	// events.k8s.io events, as Kubernetes.
	IgnoredResources []schema.GroupResource
}

// Controller is the garbage collector.
type Controller struct {
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	graph     *graph
	monitors  *monitors
	// deleteQueue holds objects that may be garbage (or owners waiting
	// for their dependents); orphanQueue owners whose dependents must be
	// orphaned.
	deleteQueue workqueue.TypedRateLimitingInterface[objectRef]
	orphanQueue workqueue.TypedRateLimitingInterface[objectRef]
	opts        Options
	log         *slog.Logger
}

// New builds the garbage collector. It talks to the API server through
// metadataClient and finds resources through discoveryClient; nothing
// starts until Run.
func New(metadataClient metadata.Interface, discoveryClient discovery.DiscoveryInterface, opts Options) *Controller {
	if opts.DiscoveryPeriod <= 0 {
		opts.DiscoveryPeriod = 30 * time.Second
	}
	if opts.IgnoredResources == nil {
		opts.IgnoredResources = []schema.GroupResource{{Group: "", Resource: "events"}, {Group: "events.k8s.io", Resource: "events"}}
	}
	opts.Options = opts.Options.Defaulted(20)
	gc := &Controller{
		metadata:    metadataClient,
		discovery:   discoveryClient,
		mapper:      restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discoveryClient)),
		deleteQueue: queue.New[objectRef]("garbage_collector_attempt_to_delete", nil),
		orphanQueue: queue.New[objectRef]("garbage_collector_attempt_to_orphan", nil),
		opts:        opts,
		log:         opts.Logger.With("controller", "garbagecollector"),
	}
	gc.graph = newGraph(gc.deleteQueue.Add, gc.orphanQueue.Add)
	gc.monitors = newMonitors(metadataClient, gc.graph, opts.ResyncPeriod, opts.IgnoredResources, gc.log)
	return gc
}

// Run discovers the resources, starts their informers, waits for them to
// sync, then runs Options.Workers goroutines for each queue until ctx is
// done, rediscovering the resources every DiscoveryPeriod.
func (gc *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	defer gc.deleteQueue.ShutDown()
	defer gc.orphanQueue.ShutDown()
	defer gc.monitors.stopAll()

	// Keep trying the first discovery: the graph must know the resources
	// before any decision is safe.
	_ = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		if err := gc.resync(); err != nil {
			gc.log.Error("discover resources", "err", err)
			return gc.monitors.count() > 0, nil
		}
		return true, nil
	})
	if !gc.monitors.waitForSync(ctx) {
		return
	}
	gc.log.Info("garbage collector synced", "resources", gc.monitors.count())

	var wg sync.WaitGroup
	wg.Go(func() {
		wait.UntilWithContext(ctx, func(context.Context) {
			if err := gc.resync(); err != nil {
				gc.log.Error("rediscover resources", "err", err)
			}
		}, gc.opts.DiscoveryPeriod)
	})
	// The monitors' caches are synced already.
	queue.RunWorkers(ctx, nil,
		queue.Worker[objectRef]{Queue: gc.deleteQueue, Sync: gc.attemptToDelete, Workers: gc.opts.Workers, Log: gc.log},
		queue.Worker[objectRef]{Queue: gc.orphanQueue, Sync: gc.attemptToOrphan, Workers: gc.opts.Workers, Log: gc.log})
	wg.Wait()
}

// resync rediscovers the deletable resources and adjusts the informers.
func (gc *Controller) resync() error {
	gc.mapper.Reset()
	lists, err := gc.discovery.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return fmt.Errorf("discover resources: %w", err)
	}
	deletable := discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"list", "watch", "delete"}}, lists)
	kinds := map[schema.GroupVersionResource]schema.GroupVersionKind{}
	for _, l := range deletable {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range l.APIResources {
			kinds[gv.WithResource(r.Name)] = gv.WithKind(r.Kind)
		}
	}
	gc.monitors.sync(kinds)
	return err
}

// mapping finds the resource of a reference and whether it is namespaced.
func (gc *Controller) mapping(ref objectRef) (schema.GroupVersionResource, bool, error) {
	gvk := ref.groupVersionKind()
	m, err := gc.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		gc.mapper.Reset()
		return schema.GroupVersionResource{}, false, fmt.Errorf("map %s: %w", gvk, err)
	}
	return m.Resource, m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// getObject reads the live object a reference names. NotFound also means
// a namespaced kind referenced without a namespace (a cluster-scoped
// dependent cannot have a namespaced owner).
func (gc *Controller) getObject(ctx context.Context, ref objectRef) (*metav1.PartialObjectMetadata, error) {
	gvr, namespaced, err := gc.mapping(ref)
	if err != nil {
		return nil, err
	}
	if !namespaced {
		return gc.metadata.Resource(gvr).Get(ctx, ref.Name, metav1.GetOptions{})
	}
	if ref.Namespace == "" {
		return nil, apierrors.NewNotFound(gvr.GroupResource(), ref.Name)
	}
	return gc.metadata.Resource(gvr).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
}

func (gc *Controller) resourceClient(ref objectRef) (metadata.ResourceInterface, error) {
	gvr, namespaced, err := gc.mapping(ref)
	if err != nil {
		return nil, err
	}
	if namespaced {
		return gc.metadata.Resource(gvr).Namespace(ref.Namespace), nil
	}
	return gc.metadata.Resource(gvr), nil
}

// deleteObject deletes the object with the given propagation, only if it
// is still the same object.
func (gc *Controller) deleteObject(ctx context.Context, ref objectRef, policy metav1.DeletionPropagation) error {
	client, err := gc.resourceClient(ref)
	if err != nil {
		return err
	}
	uid := ref.UID
	err = client.Delete(ctx, ref.Name, metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid},
		PropagationPolicy: &policy,
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete %s: %w", ref, err)
	}
	gc.log.Info("deleted garbage", "object", ref.String(), "propagation", policy)
	return nil
}

// patchMetadata replaces one metadata field by a JSON merge patch that
// carries the resourceVersion read, so that a concurrent change conflicts.
func (gc *Controller) patchMetadata(ctx context.Context, ref objectRef, resourceVersion, field string, value any) error {
	client, err := gc.resourceClient(ref)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": ref.UID, "resourceVersion": resourceVersion, field: value},
	})
	if err != nil {
		return err
	}
	if _, err := client.Patch(ctx, ref.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patch %s of %s: %w", field, ref, err)
	}
	return nil
}

// removeFinalizer takes one finalizer off the object.
func (gc *Controller) removeFinalizer(ctx context.Context, ref objectRef, obj *metav1.PartialObjectMetadata, finalizer string) error {
	var keep []string
	for _, f := range obj.Finalizers {
		if f != finalizer {
			keep = append(keep, f)
		}
	}
	var value any = keep
	if len(keep) == 0 {
		value = nil
	}
	return gc.patchMetadata(ctx, ref, obj.ResourceVersion, "finalizers", value)
}

// setOwnerReferences replaces the object's ownerReferences.
func (gc *Controller) setOwnerReferences(ctx context.Context, ref objectRef, obj *metav1.PartialObjectMetadata, owners []metav1.OwnerReference) error {
	var value any = owners
	if len(owners) == 0 {
		value = nil
	}
	return gc.patchMetadata(ctx, ref, obj.ResourceVersion, "ownerReferences", value)
}
