package scheduler

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	storagehelpers "k8s.io/component-helpers/storage/volume"

	"skiff.dev/skiff/internal/scheduler/framework"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

// volumeBindTimeout is how long binding a pod waits for its
// WaitForFirstConsumer claims to be bound (kube-scheduler's
// bindTimeoutSeconds).
const volumeBindTimeout = 600 * time.Second

// volumeBindPoll is how often that wait looks at the claims.
const volumeBindPoll = 100 * time.Millisecond

// withVolumeBinding adds VolumeBinding to the filters, after the resource
// fit as in kube-scheduler's default profile.
func withVolumeBinding(p framework.Profile, vb plugins.VolumeBinding) framework.Profile {
	p.Filters = append(p.Filters, vb)
	return p
}

// watchVolumes retries unschedulable pods when claims, volumes or classes
// appear or change (a claim created after its pod, a volume bound), and
// returns the informers' synced funcs.
func (s *Scheduler) watchVolumes(factory informers.SharedInformerFactory) []cache.InformerSynced {
	moveAll := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.queue.moveAll() },
		UpdateFunc: func(any, any) { s.queue.moveAll() },
	}
	var synced []cache.InformerSynced
	for _, inf := range []cache.SharedIndexInformer{
		factory.Core().V1().PersistentVolumeClaims().Informer(),
		factory.Core().V1().PersistentVolumes().Informer(),
		factory.Storage().V1().StorageClasses().Informer(),
	} {
		_, _ = inf.AddEventHandler(moveAll)
		synced = append(synced, inf.HasSynced)
	}
	return synced
}

// bindVolumes gives the pod's unbound WaitForFirstConsumer claims the chosen
// node (the volume.kubernetes.io/selected-node annotation, which their
// provisioner acts on) and waits until every one is bound, as
// kube-scheduler's PreBind does.
func (s *Scheduler) bindVolumes(ctx context.Context, pod *corev1.Pod, node string) error {
	delayed, err := s.volumes.DelayedClaims(pod)
	if err != nil || len(delayed) == 0 {
		return err
	}
	for _, claim := range delayed {
		if claim.Annotations[storagehelpers.AnnSelectedNode] == node {
			continue
		}
		c := claim.DeepCopy()
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[storagehelpers.AnnSelectedNode] = node
		if _, err := s.client.CoreV1().PersistentVolumeClaims(c.Namespace).Update(ctx, c, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("select node %q for persistentvolumeclaim %q: %w", node, c.Name, err)
		}
	}
	err = wait.PollUntilContextTimeout(ctx, volumeBindPoll, volumeBindTimeout, true, func(ctx context.Context) (bool, error) {
		for _, claim := range delayed {
			c, err := s.volumes.Claims.PersistentVolumeClaims(claim.Namespace).Get(claim.Name)
			if apierrors.IsNotFound(err) {
				return false, fmt.Errorf("persistentvolumeclaim %q was deleted", claim.Name)
			}
			if err != nil {
				return false, err
			}
			if c.Status.Phase != corev1.ClaimBound {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("binding volumes: %w", err)
	}
	return nil
}
