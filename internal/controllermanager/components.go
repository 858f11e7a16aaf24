package controllermanager

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/controller/clusterroleaggregation"
	"skiff.dev/skiff/internal/controller/cronjob"
	"skiff.dev/skiff/internal/controller/csrsigning"
	"skiff.dev/skiff/internal/controller/deployment"
	"skiff.dev/skiff/internal/controller/endpoints"
	"skiff.dev/skiff/internal/controller/endpointslice"
	"skiff.dev/skiff/internal/controller/endpointslicemirroring"
	"skiff.dev/skiff/internal/controller/garbagecollector"
	"skiff.dev/skiff/internal/controller/job"
	"skiff.dev/skiff/internal/controller/namespace"
	"skiff.dev/skiff/internal/controller/nodeipam"
	"skiff.dev/skiff/internal/controller/nodelifecycle"
	"skiff.dev/skiff/internal/controller/podautoscaler"
	"skiff.dev/skiff/internal/controller/podgc"
	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/controller/replicaset"
	"skiff.dev/skiff/internal/controller/servicelb"
	"skiff.dev/skiff/internal/controller/ttlafterfinished"
	"skiff.dev/skiff/internal/scheduler"
)

func metaFor(lease string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: leaseNamespace, Name: lease}
}

// runControllers runs every controller until ctx ends; each controller's
// Options.Workers defaults to kube-controller-manager's worker count.
func runControllers(ctx context.Context, d deps) {
	factory := informers.NewSharedInformerFactory(d.client, 12*time.Hour)
	log := d.cfg.Logger
	base := queue.Options{Logger: log}
	// Each controller writes as its own service account (the names of
	// kube-controller-manager's, whose bootstrap roles bound them); the
	// shared informers read as system:kube-controller-manager.
	client := func(name string) kubernetes.Interface { c, _, _ := d.controller(name); return c }
	gcClient, gcMetadata, _ := d.controller("generic-garbage-collector")
	gc := garbagecollector.New(gcMetadata, gcClient.Discovery(), garbagecollector.Options{Options: base})
	nsClient, nsMetadata, _ := d.controller("namespace-controller")
	ns := namespace.New(nsClient, nsMetadata, factory, namespace.Options{Options: base})
	rs := replicaset.New(client("replicaset-controller"), factory, d.events.For("replicaset-controller"), replicaset.Options{Options: base})
	deploy := deployment.New(client("deployment-controller"), factory, d.events.For("deployment-controller"), deployment.Options{Options: base})
	jobs := job.New(client("job-controller"), factory, d.events.For("job-controller"), job.Options{Options: base})
	cron := cronjob.New(client("cronjob-controller"), factory, d.events.For("cronjob-controller"), cronjob.Options{Options: base})
	ttl := ttlafterfinished.New(client("ttl-after-finished-controller"), factory, ttlafterfinished.Options{Options: base})
	lifecycleOpts, podGCOpts, ipamOpts := d.cfg.NodeLifecycle, d.cfg.PodGC, d.cfg.NodeIPAM
	lifecycleOpts.Logger, podGCOpts.Logger, ipamOpts.Logger = log, log, log
	nodes := nodelifecycle.New(client("node-controller"), factory, d.events.For("node-controller"), lifecycleOpts)
	podGC := podgc.New(client("pod-garbage-collector"), factory, podGCOpts)
	eps := endpoints.New(client("endpoint-controller"), factory, endpoints.Options{Options: base})
	slices := endpointslice.New(client("endpointslice-controller"), factory, endpointslice.Options{Options: base})
	mirroring := endpointslicemirroring.New(client("endpointslicemirroring-controller"), factory, endpointslicemirroring.Options{Options: base})
	fns := []func(ctx context.Context){
		gc.Run,
		ns.Run,
		rs.Run,
		deploy.Run,
		jobs.Run,
		cron.Run,
		ttl.Run,
		nodes.Run,
		podGC.Run,
		eps.Run,
		slices.Run,
		mirroring.Run,
		clusterroleaggregation.New(client("clusterrole-aggregation-controller"), factory, clusterroleaggregation.Options{Options: base}).Run,
	}
	if d.cfg.SigningCA != nil {
		fns = append(fns, csrsigning.New(client("certificate-controller"), factory, d.cfg.SigningCA, csrsigning.Options{Options: base}).Run)
	} else {
		log.Info("no signing CA: CertificateSigningRequests of kubernetes.io/kube-apiserver-client are not signed")
	}
	if !d.cfg.DisableServiceLB {
		fns = append(fns, servicelb.New(client("service-controller"), factory, servicelb.Options{Options: base}).Run)
	}
	hpaOpts := d.cfg.PodAutoscaler
	hpaOpts.Logger = log
	hpaClient, _, hpaConfig := d.controller("horizontal-pod-autoscaler")
	if hpa, err := podautoscaler.NewForConfig(hpaConfig, hpaClient, factory, d.events.For("horizontal-pod-autoscaler"), hpaOpts); err != nil {
		log.Error("horizontal pod autoscaler not started", "err", err)
	} else {
		fns = append(fns, hpa.Run)
	}
	ipam, err := nodeipam.New(client("node-controller"), factory, d.events.For("node-ipam-controller"), ipamOpts)
	if err != nil {
		log.Error("node IPAM controller not started", "err", err)
	} else {
		fns = append(fns, ipam.Run)
	}
	saFns, err := serviceAccountControllers(d, factory)
	if err != nil {
		log.Error("service account controllers", "err", err)
	}
	fns = append(fns, saFns...)
	storageFns, err := storageControllers(ctx, d, factory, base)
	if err != nil {
		log.Error("storage controllers", "err", err)
	}
	fns = append(fns, storageFns...)
	workloadFns, err := workloadControllers(ctx, d, factory)
	if err != nil {
		log.Error("workload controllers", "err", err)
	}
	fns = append(fns, workloadFns...)
	for _, start := range []func(deps, informers.SharedInformerFactory) (func(context.Context), error){disruptionController, resourceQuotaController} {
		if fn, err := start(d, factory); err != nil {
			log.Error("controller not started", "err", err)
		} else {
			fns = append(fns, fn)
		}
	}
	startAll(ctx, factory, fns...)
}

// runScheduler runs the scheduler until ctx ends.
func runScheduler(ctx context.Context, d deps) {
	factory := informers.NewSharedInformerFactory(d.client, 0)
	sched := scheduler.New(d.client, factory, d.events.For(scheduler.DefaultSchedulerName), scheduler.Options{Logger: d.cfg.Logger})
	startAll(ctx, factory, sched.Run)
}
