// Package localpath is skiff's built-in local-path provisioner: the
// external provisioner of the StorageClasses whose provisioner is
// wellknown.LocalPathProvisioner (the default class local-path).
//
// Kubernetes' PersistentVolume controller (run beside it) marks a claim of
// such a class with volume.kubernetes.io/storage-provisioner once it is to
// be provisioned; with volumeBindingMode WaitForFirstConsumer that is only
// after the scheduler chose a node for the first pod using the claim and
// wrote it to the claim's volume.kubernetes.io/selected-node annotation.
// This controller then creates a PersistentVolume for the claim: a
// directory named after the volume under the node's local-path root (the
// Node's wellknown.LocalPathRootAnnotation), with nodeAffinity to that node
// and the claim pre-bound, which the PV controller binds. The node's agent
// creates the directory when a pod mounts it and removes it when the
// volume is deleted.
//
// When the claim is deleted, the PV controller marks the volume Released;
// with reclaimPolicy Delete this controller deletes it (Retain keeps it,
// Released, with its data).
package localpath

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	storagehelpers "k8s.io/component-helpers/storage/volume"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/wellknown"
)

// Options configure the controller.
type Options struct {
	queue.Options
}

// Controller provisions and deletes local-path volumes.
type Controller struct {
	client   kubernetes.Interface
	claims   corelisters.PersistentVolumeClaimLister
	volumes  corelisters.PersistentVolumeLister
	classes  storagelisters.StorageClassLister
	nodes    corelisters.NodeLister
	synced   []cache.InformerSynced
	claimQ   workqueue.TypedRateLimitingInterface[string]
	volumeQ  workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	workers  int
	log      *slog.Logger
}

// New returns the controller reading claims, volumes, classes and nodes
// from factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) *Controller {
	opts.Options = opts.Options.Defaulted(2)
	claims, volumes := factory.Core().V1().PersistentVolumeClaims(), factory.Core().V1().PersistentVolumes()
	classes, nodes := factory.Storage().V1().StorageClasses(), factory.Core().V1().Nodes()
	c := &Controller{
		client: client, claims: claims.Lister(), volumes: volumes.Lister(), classes: classes.Lister(), nodes: nodes.Lister(),
		synced: []cache.InformerSynced{claims.Informer().HasSynced, volumes.Informer().HasSynced,
			classes.Informer().HasSynced, nodes.Informer().HasSynced},
		claimQ:   queue.New[string]("localpath_claims", clock.RealClock{}),
		volumeQ:  queue.New[string]("localpath_volumes", clock.RealClock{}),
		recorder: recorder,
		workers:  opts.Workers,
		log:      opts.Logger.With("controller", "local-path-provisioner"),
	}
	_, _ = claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { queue.Enqueue(c.claimQ, obj) },
		UpdateFunc: func(_, obj any) { queue.Enqueue(c.claimQ, obj) },
	})
	_, _ = volumes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { queue.Enqueue(c.volumeQ, obj) },
		UpdateFunc: func(_, obj any) { queue.Enqueue(c.volumeQ, obj) },
	})
	return c
}

// Run runs the workers until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	queue.RunWorkers(ctx, c.synced,
		queue.Worker[string]{Queue: c.claimQ, Sync: c.syncClaim, Workers: c.workers, Log: c.log},
		queue.Worker[string]{Queue: c.volumeQ, Sync: c.syncVolume, Workers: c.workers, Log: c.log})
}

func (c *Controller) syncClaim(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	claim, err := c.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !WantsProvisioning(claim) {
		return nil
	}
	className := storagehelpers.GetPersistentVolumeClaimClass(claim)
	class, err := c.classes.Get(className)
	if apierrors.IsNotFound(err) {
		return nil // the PV controller reports the missing class
	}
	if err != nil {
		return err
	}
	if _, err := c.volumes.Get(VolumeName(claim)); err == nil {
		return nil // provisioned; the PV controller binds it
	}
	nodeName := claim.Annotations[storagehelpers.AnnSelectedNode]
	node, err := c.nodes.Get(nodeName)
	if apierrors.IsNotFound(err) {
		c.recorder.Eventf(claim, corev1.EventTypeWarning, "ProvisioningFailed", "selected node %q not found", nodeName)
		return nil
	}
	if err != nil {
		return err
	}
	pv, err := Volume(claim, class, node)
	if err != nil {
		c.recorder.Eventf(claim, corev1.EventTypeWarning, "ProvisioningFailed", "failed to provision volume with StorageClass %q: %v", class.Name, err)
		return nil
	}
	c.recorder.Eventf(claim, corev1.EventTypeNormal, "Provisioning", "External provisioner is provisioning volume for claim %q", key)
	_, err = c.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create persistentvolume %s for claim %s: %w", pv.Name, key, err)
	}
	c.recorder.Eventf(claim, corev1.EventTypeNormal, "ProvisioningSucceeded", "Successfully provisioned volume %s", pv.Name)
	c.log.Info("provisioned volume", "claim", key, "volume", pv.Name, "node", node.Name, "path", pv.Spec.Local.Path)
	return nil
}

func (c *Controller) syncVolume(ctx context.Context, name string) error {
	pv, err := c.volumes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !ShouldDelete(pv) {
		return nil
	}
	err = c.client.CoreV1().PersistentVolumes().Delete(ctx, name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pv.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete persistentvolume %s: %w", name, err)
	}
	c.log.Info("deleted released volume", "volume", name)
	return nil
}

// Provisioner returns the provisioner the PV controller asked to provision
// the claim (the GA annotation, else the beta one), or "".
func Provisioner(claim *corev1.PersistentVolumeClaim) string {
	if p := claim.Annotations[storagehelpers.AnnStorageProvisioner]; p != "" {
		return p
	}
	return claim.Annotations[storagehelpers.AnnBetaStorageProvisioner]
}

// WantsProvisioning reports whether the claim waits for this provisioner:
// unbound, alive, marked for it by the PV controller, and placed on a node
// by the scheduler.
func WantsProvisioning(claim *corev1.PersistentVolumeClaim) bool {
	return claim.Spec.VolumeName == "" && claim.DeletionTimestamp == nil &&
		Provisioner(claim) == wellknown.LocalPathProvisioner &&
		claim.Annotations[storagehelpers.AnnSelectedNode] != ""
}

// ShouldDelete reports whether the volume is one of this provisioner's
// that its claim released under reclaimPolicy Delete.
func ShouldDelete(pv *corev1.PersistentVolume) bool {
	return pv.DeletionTimestamp == nil &&
		pv.Annotations[storagehelpers.AnnDynamicallyProvisioned] == wellknown.LocalPathProvisioner &&
		pv.Status.Phase == corev1.VolumeReleased &&
		pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete
}

// VolumeName is the name of the volume provisioned for claim: pvc-<uid>,
// as Kubernetes' provisioners name theirs.
func VolumeName(claim *corev1.PersistentVolumeClaim) string {
	return "pvc-" + string(claim.UID)
}

// Volume returns the PersistentVolume to provision for claim of class on
// node: the directory named after it under the node's local-path root,
// reachable only on that node, pre-bound to the claim.
func Volume(claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node *corev1.Node) (*corev1.PersistentVolume, error) {
	root := node.Annotations[wellknown.LocalPathRootAnnotation]
	if root == "" || !filepath.IsAbs(root) {
		return nil, fmt.Errorf("node %q publishes no local-path root (annotation %s)", node.Name, wellknown.LocalPathRootAnnotation)
	}
	if claim.Spec.VolumeMode != nil && *claim.Spec.VolumeMode == corev1.PersistentVolumeBlock {
		return nil, fmt.Errorf("volumeMode Block is not supported, only Filesystem")
	}
	if claim.Spec.Selector != nil {
		return nil, fmt.Errorf("claim Selector is not supported")
	}
	size, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return nil, fmt.Errorf("claim requests no storage")
	}
	hostname := node.Labels[corev1.LabelHostname]
	if hostname == "" {
		hostname = node.Name
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		reclaim = *class.ReclaimPolicy
	}
	fs := corev1.PersistentVolumeFilesystem
	name := VolumeName(claim)
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{storagehelpers.AnnDynamicallyProvisioned: wellknown.LocalPathProvisioner},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   claim.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              class.Name,
			MountOptions:                  class.MountOptions,
			VolumeMode:                    &fs,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID, ResourceVersion: claim.ResourceVersion,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				Local: &corev1.LocalVolumeSource{Path: filepath.Join(root, name)},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{hostname},
				}}}},
			}},
		},
	}, nil
}
