package controllermanager

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/informers"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/controller/volume/persistentvolume"
	"k8s.io/kubernetes/pkg/controller/volume/pvcprotection"
	"k8s.io/kubernetes/pkg/controller/volume/pvprotection"

	"skiff.dev/skiff/internal/controller/localpath"
	"skiff.dev/skiff/internal/controller/queue"
)

// pvBinderSyncPeriod is kube-controller-manager's --pvclaimbinder-sync-period.
const pvBinderSyncPeriod = 15 * time.Second

// storageControllers are kube-controller-manager's persistentvolume-binder
// (binding claims to volumes, WaitForFirstConsumer, handing claims to
// external provisioners), pvc-protection and pv-protection controllers,
// from k8s.io/kubernetes, and skiff's local-path provisioner, the external
// provisioner of the default class. The binder runs with no in-tree volume
// plugins: every class is provisioned and deleted by an external
// provisioner, as on a cluster whose in-tree plugins migrated to CSI.
func storageControllers(ctx context.Context, d deps, factory informers.SharedInformerFactory, base queue.Options) ([]func(ctx context.Context), error) {
	core := factory.Core().V1()
	logger := logr.FromSlogHandler(d.cfg.Logger.Handler())
	binderClient, _, _ := d.controller("persistent-volume-binder")
	binder, err := persistentvolume.NewController(klog.NewContext(ctx, logger.WithName("persistentvolume-binder-controller")),
		persistentvolume.ControllerParameters{
			KubeClient:                binderClient,
			SyncPeriod:                pvBinderSyncPeriod,
			VolumeInformer:            core.PersistentVolumes(),
			ClaimInformer:             core.PersistentVolumeClaims(),
			ClassInformer:             factory.Storage().V1().StorageClasses(),
			PodInformer:               core.Pods(),
			NodeInformer:              core.Nodes(),
			EnableDynamicProvisioning: true,
		})
	if err != nil {
		return nil, fmt.Errorf("persistentvolume-binder controller: %w", err)
	}
	pvcClient, _, _ := d.controller("pvc-protection-controller")
	pvcProtection, err := pvcprotection.NewPVCProtectionController(logger.WithName("pvc-protection-controller"),
		core.PersistentVolumeClaims(), core.Pods(), pvcClient)
	if err != nil {
		return nil, fmt.Errorf("pvc-protection controller: %w", err)
	}
	pvClient, _, _ := d.controller("pv-protection-controller")
	pvProtection, err := pvprotection.NewPVProtectionController(logger.WithName("pv-protection-controller"),
		core.PersistentVolumes(), pvClient)
	if err != nil {
		return nil, fmt.Errorf("pv-protection controller: %w", err)
	}
	// The provisioner acts as the binder, whose bootstrap role has the
	// rights it needs (creating and deleting volumes, reading claims,
	// classes and nodes), as in-tree provisioners ran inside the binder.
	provisioner := localpath.New(binderClient, factory, d.events.For("local-path-provisioner"), localpath.Options{Options: base})
	return []func(ctx context.Context){
		func(ctx context.Context) {
			binder.Run(klog.NewContext(ctx, logger.WithName("persistentvolume-binder-controller")))
		},
		func(ctx context.Context) {
			pvcProtection.Run(klog.NewContext(ctx, logger.WithName("pvc-protection-controller")), 1)
		},
		func(ctx context.Context) {
			pvProtection.Run(klog.NewContext(ctx, logger.WithName("pv-protection-controller")), 1)
		},
		provisioner.Run,
	}, nil
}
