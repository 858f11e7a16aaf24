// Package clusterroleaggregation fills the rules of ClusterRoles that have
// an aggregationRule (admin, edit, view and any user's) with the rules of
// every ClusterRole its selectors match, as kube-controller-manager's
// clusterrole-aggregation controller does: a chart that labels its role
// rbac.authorization.k8s.io/aggregate-to-edit=true extends edit.
// Aggregate decides; the Controller writes.
package clusterroleaggregation

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"skiff.dev/skiff/internal/controller/queue"
)

// Aggregate returns the rules role should have: those of every other
// ClusterRole matched by one of its selectors, in name order, without exact
// duplicates; ok is false when role has no aggregationRule. A selector that
// does not parse is an error.
func Aggregate(role *rbacv1.ClusterRole, all []*rbacv1.ClusterRole) (rules []rbacv1.PolicyRule, ok bool, err error) {
	if role.AggregationRule == nil {
		return nil, false, nil
	}
	matched := map[string]*rbacv1.ClusterRole{}
	for i := range role.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&role.AggregationRule.ClusterRoleSelectors[i])
		if err != nil {
			return nil, true, fmt.Errorf("clusterrole %s: aggregationRule selector %d: %w", role.Name, i, err)
		}
		for _, other := range all {
			if other.Name != role.Name && sel.Matches(labels.Set(other.Labels)) {
				matched[other.Name] = other
			}
		}
	}
	names := make([]string, 0, len(matched))
	for n := range matched {
		names = append(names, n)
	}
	sort.Strings(names)
	rules = []rbacv1.PolicyRule{}
	for _, n := range names {
	next:
		for _, r := range matched[n].Rules {
			for _, have := range rules {
				if apiequality.Semantic.DeepEqual(have, r) {
					continue next
				}
			}
			rules = append(rules, r)
		}
	}
	return rules, true, nil
}

// Options tunes the controller. Zero values mean the defaults.
type Options struct {
	// Options are the worker count (default 5, as
	// kube-controller-manager's --concurrent-clusterrole-aggregation-syncs)
	// and the logger.
	queue.Options
}

// Controller keeps aggregated ClusterRoles' rules.
type Controller struct {
	client  kubernetes.Interface
	roles   rbaclisters.ClusterRoleLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	workers int
	log     *slog.Logger
}

// New wires the event handlers; the caller starts the informer factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Options = opts.Options.Defaulted(5)
	inf := factory.Rbac().V1().ClusterRoles()
	c := &Controller{
		client: client, roles: inf.Lister(),
		synced:  []cache.InformerSynced{inf.Informer().HasSynced},
		queue:   queue.New[string]("clusterrole_aggregation", nil),
		workers: opts.Workers,
		log:     opts.Logger.With("controller", "clusterrole-aggregation"),
	}
	// Any change may add to or take from any aggregated role: every one is
	// looked at again (there are few).
	_, _ = inf.Informer().AddEventHandler(queue.OnEvery(func(any) { c.enqueueAggregated() }))
	return c
}

// Run waits for the cache, then runs Options.Workers goroutines until ctx
// is done.
func (c *Controller) Run(ctx context.Context) {
	queue.RunWorkers(ctx, c.synced, queue.Worker[string]{Queue: c.queue, Sync: c.sync, Workers: c.workers, Log: c.log})
}

func (c *Controller) enqueueAggregated() {
	roles, err := c.roles.List(labels.Everything())
	if err != nil {
		return
	}
	for _, r := range roles {
		if r.AggregationRule != nil {
			c.queue.Add(r.Name)
		}
	}
}

func (c *Controller) sync(ctx context.Context, name string) error {
	role, err := c.roles.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	all, err := c.roles.List(labels.Everything())
	if err != nil {
		return err
	}
	rules, ok, err := Aggregate(role, all)
	if err != nil {
		return queue.Terminal(err)
	}
	if !ok || apiequality.Semantic.DeepEqual(nonNil(role.Rules), rules) {
		return nil
	}
	role = role.DeepCopy()
	role.Rules = rules
	if _, err := c.client.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update aggregated clusterrole %s: %w", name, err)
	}
	c.log.Info("aggregated clusterrole", "clusterrole", name, "rules", len(rules))
	return nil
}

func nonNil(r []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	if r == nil {
		return []rbacv1.PolicyRule{}
	}
	return r
}
