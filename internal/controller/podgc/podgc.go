// Package podgc force-deletes pods that no kubelet will ever finish, as
// Kubernetes' pod garbage collector does: pods bound to a node that no
// longer exists (after a quarantine and a live check of the node), pods that
// are terminating on a not-Ready node tainted
// node.kubernetes.io/out-of-service, terminating pods that were never
// scheduled, and the oldest finished pods once there are more than a
// threshold of them. A pod that is not yet finished is first marked Failed
// (with a DisruptionTarget condition when its node is gone), so that
// controllers counting failures see it, then deleted with grace period 0.
package podgc

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/controller/podutil"
)

// Options tunes the controller. Zero values mean Kubernetes' defaults,
// except TerminatedPodThreshold's.
type Options struct {
	// CheckPeriod is how often the pods are looked over (default 20 s).
	CheckPeriod time.Duration
	// Quarantine is how long a node must be missing from the cache before
	// it is looked up live and, if gone, its pods deleted (default 40 s).
	Quarantine time.Duration
	// TerminatedPodThreshold is how many finished pods may stay; above it
	// the oldest are deleted (kube-controller-manager's
	// --terminated-pod-gc-threshold, whose default is
	// DefaultTerminatedPodThreshold). Zero or negative turns it off.
	TerminatedPodThreshold int
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// DefaultTerminatedPodThreshold is kube-controller-manager's default.
const DefaultTerminatedPodThreshold = 12500

// Controller is the pod garbage collector.
type Controller struct {
	client     kubernetes.Interface
	pods       corelisters.PodLister
	nodes      corelisters.NodeLister
	synced     []cache.InformerSynced
	opts       Options
	log        *slog.Logger
	missingSet map[string]time.Time // node name → when first seen missing
}

// New wires the informers; the caller starts the informer factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	if opts.CheckPeriod == 0 {
		opts.CheckPeriod = 20 * time.Second
	}
	if opts.Quarantine == 0 {
		opts.Quarantine = 40 * time.Second
	}
	opts.Clock = cmp.Or[clock.WithTicker](opts.Clock, clock.RealClock{})
	opts.Logger = cmp.Or(opts.Logger, slog.Default())
	pods, nodes := factory.Core().V1().Pods(), factory.Core().V1().Nodes()
	return &Controller{
		client:     client,
		pods:       pods.Lister(),
		nodes:      nodes.Lister(),
		synced:     []cache.InformerSynced{pods.Informer().HasSynced, nodes.Informer().HasSynced},
		opts:       opts,
		log:        opts.Logger.With("controller", "pod-garbage-collector"),
		missingSet: map[string]time.Time{},
	}
}

// Run waits for the caches, then looks the pods over every CheckPeriod
// until ctx is done. The pass is one loop with no work queue.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	ticker := c.opts.Clock.NewTicker(c.opts.CheckPeriod)
	defer ticker.Stop()
	for {
		c.GC(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

// GC makes one pass over the cached pods and nodes.
func (c *Controller) GC(ctx context.Context) {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		c.log.Error("listing pods", "err", err)
		return
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		c.log.Error("listing nodes", "err", err)
		return
	}
	byName := make(map[string]*corev1.Node, len(nodes))
	for _, n := range nodes {
		byName[n.Name] = n
	}
	plan := c.plan(ctx, pods, byName)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	for _, d := range plan {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := c.markFailedAndDelete(ctx, d.pod, d.condition); err != nil {
				c.log.Error("force-deleting pod", "pod", d.pod.Namespace+"/"+d.pod.Name, "why", d.why, "err", err)
				return
			}
			c.log.Info("force-deleted pod", "pod", d.pod.Namespace+"/"+d.pod.Name, "why", d.why)
		})
	}
	wg.Wait()
}

// deletion is one pod to force-delete, and why.
type deletion struct {
	pod       *corev1.Pod
	why       string
	condition *corev1.PodCondition
}

// plan picks the pods to delete in this pass. Each pod is named once.
func (c *Controller) plan(ctx context.Context, pods []*corev1.Pod, nodes map[string]*corev1.Node) []deletion {
	var out []deletion
	chosen := map[types.UID]bool{}
	add := func(p *corev1.Pod, why string, cond *corev1.PodCondition) {
		if !chosen[p.UID] {
			chosen[p.UID] = true
			out = append(out, deletion{pod: p, why: why, condition: cond})
		}
	}

	if c.opts.TerminatedPodThreshold > 0 {
		var finished []*corev1.Pod
		for _, p := range pods {
			if podutil.IsTerminal(p) {
				finished = append(finished, p)
			}
		}
		if extra := len(finished) - c.opts.TerminatedPodThreshold; extra > 0 {
			slices.SortFunc(finished, olderFirst)
			for _, p := range finished[:extra] {
				add(p, "more finished pods than the threshold", nil)
			}
		}
	}

	for _, p := range pods {
		if p.DeletionTimestamp == nil || p.Spec.NodeName == "" {
			continue
		}
		if n := nodes[p.Spec.NodeName]; n != nil && !nodeReady(n) && hasTaint(n, corev1.TaintNodeOutOfService) {
			add(p, "terminating on an out-of-service node", nil)
		}
	}

	for _, name := range c.goneNodes(ctx, pods, nodes) {
		for _, p := range pods {
			if p.Spec.NodeName == name {
				add(p, "its node no longer exists", &corev1.PodCondition{
					Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
					Reason: "DeletionByPodGC", Message: "PodGC: node no longer exists",
				})
			}
		}
	}

	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			add(p, "terminating and never scheduled", nil)
		}
	}
	return out
}

// goneNodes returns the nodes that pods are bound to, that have been missing
// from the cache for the quarantine period, and that a live GET does not
// find either.
func (c *Controller) goneNodes(ctx context.Context, pods []*corev1.Pod, nodes map[string]*corev1.Node) []string {
	now := c.opts.Clock.Now()
	referenced := map[string]bool{}
	for _, p := range pods {
		if name := p.Spec.NodeName; name != "" && nodes[name] == nil {
			referenced[name] = true
			if _, ok := c.missingSet[name]; !ok {
				c.missingSet[name] = now
			}
		}
	}
	var gone []string
	for name, since := range c.missingSet {
		if !referenced[name] {
			delete(c.missingSet, name)
			continue
		}
		if now.Sub(since) < c.opts.Quarantine {
			continue
		}
		_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			gone = append(gone, name)
		case err != nil:
			c.log.Error("checking a missing node", "node", name, "err", err)
		default:
			delete(c.missingSet, name) // the cache was behind
		}
	}
	slices.Sort(gone)
	return gone
}

// markFailedAndDelete moves an unfinished pod to Failed (adding cond, when
// given) and deletes it with grace period 0. Both steps carry the pod's UID,
// so a pod recreated under the same name is left alone.
func (c *Controller) markFailedAndDelete(ctx context.Context, pod *corev1.Pod, cond *corev1.PodCondition) error {
	pods := c.client.CoreV1().Pods(pod.Namespace)
	if !podutil.IsTerminal(pod) {
		status := map[string]any{"phase": corev1.PodFailed}
		if cond != nil {
			withTime := *cond
			withTime.LastTransitionTime = metav1.NewTime(c.opts.Clock.Now())
			// A strategic merge patch merges conditions by type.
			status["conditions"] = []corev1.PodCondition{withTime}
		}
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"uid": pod.UID}, "status": status})
		if err != nil {
			return err
		}
		if _, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				return nil
			}
			return fmt.Errorf("marking pod Failed: %w", err)
		}
	}
	err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting pod: %w", err)
	}
	return nil
}

// olderFirst orders evicted pods first, then by creation time, then name.
func olderFirst(a, b *corev1.Pod) int {
	if ea, eb := a.Status.Reason == "Evicted", b.Status.Reason == "Evicted"; ea != eb {
		if ea {
			return -1
		}
		return 1
	}
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}
