package controllermanager

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/controller/daemon"
	"k8s.io/kubernetes/pkg/controller/replication"
	"k8s.io/kubernetes/pkg/controller/statefulset"
)

// kube-controller-manager's default worker counts
// (--concurrent-statefulset-syncs, --concurrent-daemonset-syncs,
// --concurrent-replicationcontroller-syncs).
const (
	statefulSetWorkers           = 5
	daemonSetWorkers             = 2
	replicationControllerWorkers = 5
)

// workloadControllers are kube-controller-manager's StatefulSet, DaemonSet
// and ReplicationController controllers, from k8s.io/kubernetes, each
// writing as its own service account. They take their logger from ctx.
func workloadControllers(ctx context.Context, d deps, factory informers.SharedInformerFactory) ([]func(ctx context.Context), error) {
	core, apps := factory.Core().V1(), factory.Apps().V1()
	logger := logr.FromSlogHandler(d.cfg.Logger.Handler())
	named := func(name string) context.Context { return klog.NewContext(ctx, logger.WithName(name)) }

	ssClient, _, _ := d.controller("statefulset-controller")
	pvcs, runPVCs := claimInformer(d.client.Discovery(), factory)
	ss := statefulset.NewStatefulSetController(named("statefulset-controller"), core.Pods(), apps.StatefulSets(), pvcs,
		apps.ControllerRevisions(), ssClient)

	dsClient, _, _ := d.controller("daemon-set-controller")
	ds, err := daemon.NewDaemonSetsController(named("daemonset-controller"), apps.DaemonSets(), apps.ControllerRevisions(),
		core.Pods(), core.Nodes(), dsClient, flowcontrol.NewBackOff(time.Second, 15*time.Minute))
	if err != nil {
		return nil, fmt.Errorf("daemonset controller: %w", err)
	}

	rcClient, _, _ := d.controller("replication-controller")
	rc := replication.NewReplicationManager(named("replicationcontroller"), core.Pods(), core.ReplicationControllers(), rcClient,
		replication.BurstReplicas)

	return []func(ctx context.Context){
		runPVCs,
		func(ctx context.Context) {
			ss.Run(klog.NewContext(ctx, logger.WithName("statefulset-controller")), statefulSetWorkers)
		},
		func(ctx context.Context) {
			ds.Run(klog.NewContext(ctx, logger.WithName("daemonset-controller")), daemonSetWorkers)
		},
		func(ctx context.Context) {
			rc.Run(klog.NewContext(ctx, logger.WithName("replicationcontroller")), replicationControllerWorkers)
		},
	}, nil
}

// claimInformer is the shared PersistentVolumeClaim informer when the API
// serves claims. Where it does not (a server built without the storage
// kinds), it is an informer over no claims, so that the StatefulSet
// controller, which waits for the claims' cache, still runs the sets that
// have no volumeClaimTemplates; run then runs it (the factory's informers
// need nothing of run).
func claimInformer(disc discovery.DiscoveryInterface, factory informers.SharedInformerFactory) (coreinformers.PersistentVolumeClaimInformer, func(ctx context.Context)) {
	if servesClaims(disc) {
		return factory.Core().V1().PersistentVolumeClaims(), func(context.Context) {}
	}
	inf := cache.NewSharedIndexInformer(emptyClaims{&cache.ListWatch{
		ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) {
			return &corev1.PersistentVolumeClaimList{}, nil
		},
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil },
	}}, &corev1.PersistentVolumeClaim{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	return noClaims{inf}, func(ctx context.Context) { inf.RunWithContext(ctx) }
}

func servesClaims(disc discovery.DiscoveryInterface) bool {
	list, err := disc.ServerResourcesForGroupVersion(corev1.SchemeGroupVersion.String())
	if err != nil {
		// Assume the usual: claims are served (the informer retries).
		return true
	}
	return slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == "persistentvolumeclaims" })
}

// emptyClaims lists no claims and watches for none; it lists rather than
// streams (a watch that never ends its initial events would never sync).
type emptyClaims struct{ *cache.ListWatch }

func (emptyClaims) IsWatchListSemanticsUnSupported() bool { return true }

// noClaims is a PersistentVolumeClaimInformer over an informer of its own.
type noClaims struct{ inf cache.SharedIndexInformer }

func (n noClaims) Informer() cache.SharedIndexInformer { return n.inf }

func (n noClaims) Lister() corelisters.PersistentVolumeClaimLister {
	return corelisters.NewPersistentVolumeClaimLister(n.inf.GetIndexer())
}
