package controllermanager

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/informers"
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
	pvcs := factory.Core().V1().PersistentVolumeClaims()
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
