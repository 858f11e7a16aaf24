package controllermanager

import (
	"context"
	"fmt"
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"time"

	quotav1generic "k8s.io/apiserver/pkg/quota/v1/generic"
	cacheddiscovery "k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/controller-manager/pkg/informerfactory"
	pkgcontroller "k8s.io/kubernetes/pkg/controller"
	"k8s.io/kubernetes/pkg/controller/disruption"
	resourcequotacontroller "k8s.io/kubernetes/pkg/controller/resourcequota"
	quotacore "k8s.io/kubernetes/pkg/quota/v1/evaluator/core"
	quotainstall "k8s.io/kubernetes/pkg/quota/v1/install"
)

// quotaResync is how often the resourcequota controller recomputes every
// quota's usage from scratch (kube-controller-manager's
// --resource-quota-sync-period).
const quotaResync = 5 * time.Minute

// disruptionController is kube-controller-manager's disruption controller
// (k8s.io/kubernetes): it keeps PodDisruptionBudgets' status (healthy pods,
// disruptionsAllowed) from the pods and their controllers' scale.
func disruptionController(d deps, factory informers.SharedInformerFactory) (func(ctx context.Context), error) {
	client, _, cfg := d.controller("disruption-controller")
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cacheddiscovery.NewMemCacheClient(client.Discovery()))
	scales, err := scale.NewForConfig(cfg, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(client.Discovery()))
	if err != nil {
		return nil, fmt.Errorf("disruption controller: %w", err)
	}
	rcs := factory.Core().V1().ReplicationControllers()
	return func(ctx context.Context) {
		dc := disruption.NewDisruptionController(ctx, factory.Core().V1().Pods(), factory.Policy().V1().PodDisruptionBudgets(),
			rcs, factory.Apps().V1().ReplicaSets(), factory.Apps().V1().Deployments(), factory.Apps().V1().StatefulSets(),
			client, mapper, scales, client.Discovery())
		factory.Start(ctx.Done())
		go func() {
			// The deferred mapper learns kinds served later (CRDs).
			ticker := time.NewTicker(30 * time.Second)
			defer ticker.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-ticker.C:
					mapper.Reset()
				}
			}
		}()
		dc.Run(ctx, 1)
	}, nil
}

// resourceQuotaController is kube-controller-manager's resourcequota
// controller (k8s.io/kubernetes): it keeps every ResourceQuota's
// status.used, with Kubernetes' evaluators (object counts, compute and
// extended resources), and watches every served namespaced resource for
// the object counts.
func resourceQuotaController(d deps, factory informers.SharedInformerFactory) (func(ctx context.Context), error) {
	client, md, _ := d.controller("resourcequota-controller")
	discoveryFunc := client.Discovery().ServerPreferredNamespacedResources
	// Kubernetes' evaluators, less resource.k8s.io's (dynamic resource
	// allocation is not served: its informers would never list).
	servedGroups := func(gvr schema.GroupVersionResource) bool { return gvr.Group != resourcev1.GroupName }
	evaluators, err := quotacore.NewEvaluators(quotav1generic.ListerFuncForResourceFunc(factory.ForResource), factory, servedGroups)
	if err != nil {
		return nil, fmt.Errorf("resourcequota controller: %w", err)
	}
	config := quotav1generic.NewConfiguration(evaluators, quotainstall.DefaultIgnoredResources())
	return func(ctx context.Context) {
		metadataFactory := metadatainformer.NewSharedInformerFactory(md, 0)
		started := make(chan struct{})
		rq, err := resourcequotacontroller.NewController(ctx, &resourcequotacontroller.ControllerOptions{
			QuotaClient:               client.CoreV1(),
			ResourceQuotaInformer:     factory.Core().V1().ResourceQuotas(),
			ResyncPeriod:              pkgcontroller.StaticResyncPeriodFunc(quotaResync),
			InformerFactory:           informerfactory.NewInformerFactory(factory, metadataFactory),
			ReplenishmentResyncPeriod: pkgcontroller.StaticResyncPeriodFunc(12 * time.Hour),
			DiscoveryFunc:             discoveryFunc,
			IgnoredResourcesFunc:      config.IgnoredResources,
			InformersStarted:          started,
			Registry:                  quotav1generic.NewRegistry(config.Evaluators()),
			UpdateFilter:              quotainstall.DefaultUpdateFilter(),
		})
		if err != nil {
			d.cfg.Logger.Error("resourcequota controller not started", "err", err)
			return
		}
		factory.Start(ctx.Done())
		metadataFactory.Start(ctx.Done())
		close(started)
		go rq.Sync(ctx, discoveryFunc, 30*time.Second)
		rq.Run(ctx, 5)
	}, nil
}
