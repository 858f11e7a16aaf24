package controllermanager

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

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
	gc := garbagecollector.New(d.metadata, d.client.Discovery(), garbagecollector.Options{Options: base})
	ns := namespace.New(d.client, d.metadata, factory, namespace.Options{Options: base})
	rs := replicaset.New(d.client, factory, d.events.For("replicaset-controller"), replicaset.Options{Options: base})
	deploy := deployment.New(d.client, factory, d.events.For("deployment-controller"), deployment.Options{Options: base})
	jobs := job.New(d.client, factory, d.events.For("job-controller"), job.Options{Options: base})
	cron := cronjob.New(d.client, factory, d.events.For("cronjob-controller"), cronjob.Options{Options: base})
	ttl := ttlafterfinished.New(d.client, factory, ttlafterfinished.Options{Options: base})
	lifecycleOpts, podGCOpts, ipamOpts := d.cfg.NodeLifecycle, d.cfg.PodGC, d.cfg.NodeIPAM
	lifecycleOpts.Logger, podGCOpts.Logger, ipamOpts.Logger = log, log, log
	nodes := nodelifecycle.New(d.client, factory, d.events.For("node-controller"), lifecycleOpts)
	podGC := podgc.New(d.client, factory, podGCOpts)
	eps := endpoints.New(d.client, factory, endpoints.Options{Options: base})
	slices := endpointslice.New(d.client, factory, endpointslice.Options{Options: base})
	mirroring := endpointslicemirroring.New(d.client, factory, endpointslicemirroring.Options{Options: base})
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
	}
	if d.cfg.SigningCA != nil {
		fns = append(fns, csrsigning.New(d.client, factory, d.cfg.SigningCA, csrsigning.Options{Options: base}).Run)
	} else {
		log.Info("no signing CA: CertificateSigningRequests of kubernetes.io/kube-apiserver-client are not signed")
	}
	if !d.cfg.DisableServiceLB {
		fns = append(fns, servicelb.New(d.client, factory, servicelb.Options{Options: base}).Run)
	}
	hpaOpts := d.cfg.PodAutoscaler
	hpaOpts.Logger = log
	if hpa, err := podautoscaler.NewForConfig(d.cfg.RestConfig, d.client, factory, d.events.For("horizontal-pod-autoscaler"), hpaOpts); err != nil {
		log.Error("horizontal pod autoscaler not started", "err", err)
	} else {
		fns = append(fns, hpa.Run)
	}
	ipam, err := nodeipam.New(d.client, factory, d.events.For("node-ipam-controller"), ipamOpts)
	if err != nil {
		log.Error("node IPAM controller not started", "err", err)
	} else {
		fns = append(fns, ipam.Run)
	}
	startAll(ctx, factory, fns...)
}

// runScheduler runs the scheduler until ctx ends.
func runScheduler(ctx context.Context, d deps) {
	factory := informers.NewSharedInformerFactory(d.client, 0)
	sched := scheduler.New(d.client, factory, d.events.For(scheduler.DefaultSchedulerName), scheduler.Options{Logger: d.cfg.Logger})
	startAll(ctx, factory, sched.Run)
}
