package agent

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/internal/agent/volume"
)

// runLocalPathCleaner removes, until ctx ends, the directory of each
// local-path volume of this node (under root) whose PersistentVolume is
// deleted with reclaimPolicy Delete: the local-path provisioner deletes
// the PV of a released claim, and the data goes with it here.
func runLocalPathCleaner(ctx context.Context, client kubernetes.Interface, root string, log *slog.Logger) {
	factory := informers.NewSharedInformerFactory(client, 0)
	_, _ = factory.Core().V1().PersistentVolumes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			pv, ok := obj.(*corev1.PersistentVolume)
			if !ok {
				return
			}
			removed, err := volume.RemoveLocalPath(root, pv)
			switch {
			case err != nil:
				log.Error("local-path volume not removed", "volume", pv.Name, "err", err)
			case removed:
				log.Info("removed local-path volume", "volume", pv.Name, "path", pv.Spec.Local.Path)
			}
		},
	})
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
}
