package garbagecollector

import (
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// objectRef identifies one object: what an ownerReference says plus the
// namespace. It is the workqueues' key.
type objectRef struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	UID        types.UID
}

func (r objectRef) String() string {
	return fmt.Sprintf("%s/%s %s/%s (uid %s)", r.APIVersion, r.Kind, r.Namespace, r.Name, r.UID)
}

func (r objectRef) groupVersionKind() schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(r.APIVersion, r.Kind)
}

// node is one object in the ownership graph.
type node struct {
	ref objectRef
	// virtual nodes are known only from an ownerReference pointing at them;
	// no informer has reported the object (yet).
	virtual bool
	owners  []metav1.OwnerReference
	// dependents are the nodes whose ownerReferences name this one.
	dependents map[*node]struct{}
	// beingDeleted is set once the object has a deletionTimestamp;
	// deletingDependents when it also has the foregroundDeletion finalizer.
	beingDeleted       bool
	deletingDependents bool
}

// graph is the ownership graph the informers feed. Every method locks it;
// the event handlers of all informers go through it, so it sees one
// sequence of changes.
type graph struct {
	mu    sync.Mutex
	nodes map[types.UID]*node
	// deleteQueue and orphanQueue receive the work the changes call for.
	deleteQueue func(objectRef)
	orphanQueue func(objectRef)
}

func newGraph(deleteQueue, orphanQueue func(objectRef)) *graph {
	return &graph{nodes: map[types.UID]*node{}, deleteQueue: deleteQueue, orphanQueue: orphanQueue}
}

func hasFinalizer(m metav1.Object, finalizer string) bool {
	for _, f := range m.GetFinalizers() {
		if f == finalizer {
			return true
		}
	}
	return false
}

// observe records an added or updated object of the given kind.
func (g *graph) observe(gvk schema.GroupVersionKind, obj metav1.Object) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ref := objectRef{
		APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
		Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID(),
	}
	n, exists := g.nodes[ref.UID]
	if !exists {
		n = &node{dependents: map[*node]struct{}{}}
		g.nodes[ref.UID] = n
	}
	n.ref, n.virtual = ref, false

	oldOwners := n.owners
	n.owners = append([]metav1.OwnerReference(nil), obj.GetOwnerReferences()...)
	g.relink(n, oldOwners)

	n.beingDeleted = obj.GetDeletionTimestamp() != nil
	n.deletingDependents = n.beingDeleted && hasFinalizer(obj, metav1.FinalizerDeleteDependents)
	if n.beingDeleted && hasFinalizer(obj, metav1.FinalizerOrphanDependents) {
		g.orphanQueue(n.ref)
	}
	if n.deletingDependents {
		// The owner waits for its dependents: delete them, and look at the
		// owner itself in case none block it.
		g.deleteQueue(n.ref)
		for dep := range n.dependents {
			g.deleteQueue(dep.ref)
		}
	}
}

// relink updates the owners' dependents after n's ownerReferences changed
// from old to n.owners.
func (g *graph) relink(n *node, old []metav1.OwnerReference) {
	current := map[types.UID]metav1.OwnerReference{}
	for _, o := range n.owners {
		current[o.UID] = o
	}
	for _, o := range old {
		now, still := current[o.UID]
		owner := g.nodes[o.UID]
		if owner == nil {
			continue
		}
		if !still {
			delete(owner.dependents, n)
			g.dropIfUnusedVirtual(owner)
		}
		// A dependent that stopped blocking lets a foreground deletion go on.
		if owner.deletingDependents && (!still || blocks(o) && !blocks(now)) {
			g.deleteQueue(owner.ref)
		}
	}
	for _, o := range n.owners {
		owner := g.nodes[o.UID]
		if owner == nil {
			// Not seen yet: remember it and check whether it exists at all.
			owner = &node{
				virtual:    true,
				dependents: map[*node]struct{}{},
				ref: objectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: n.ref.Namespace,
					Name: o.Name, UID: o.UID},
			}
			g.nodes[o.UID] = owner
			g.deleteQueue(owner.ref)
		}
		owner.dependents[n] = struct{}{}
	}
}

func blocks(o metav1.OwnerReference) bool {
	return o.BlockOwnerDeletion != nil && *o.BlockOwnerDeletion
}

func (g *graph) dropIfUnusedVirtual(n *node) {
	if n.virtual && len(n.dependents) == 0 {
		delete(g.nodes, n.ref.UID)
	}
}

// forget records that an object is gone. virtualOnly limits it to nodes
// no informer has reported: the garbage collector found their owner
// reference pointing at nothing.
func (g *graph) forget(uid types.UID, virtualOnly bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.nodes[uid]
	if n == nil || virtualOnly && !n.virtual {
		return
	}
	delete(g.nodes, uid)
	for _, o := range n.owners {
		owner := g.nodes[o.UID]
		if owner == nil {
			continue
		}
		delete(owner.dependents, n)
		if owner.deletingDependents {
			g.deleteQueue(owner.ref)
		}
		g.dropIfUnusedVirtual(owner)
	}
	// Their owner is gone: each dependent may now be garbage.
	for dep := range n.dependents {
		g.deleteQueue(dep.ref)
	}
}

// nodeView is a copy of what the workers need of a node.
type nodeView struct {
	ref                objectRef
	virtual            bool
	deletingDependents bool
	dependents         []dependentView
}

type dependentView struct {
	ref                objectRef
	deletingDependents bool
	// blocking is true when the dependent's reference to the node has
	// blockOwnerDeletion set.
	blocking bool
}

// get returns a copy of the node with the given UID.
func (g *graph) get(uid types.UID) (nodeView, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.nodes[uid]
	if n == nil {
		return nodeView{}, false
	}
	v := nodeView{ref: n.ref, virtual: n.virtual, deletingDependents: n.deletingDependents}
	for dep := range n.dependents {
		dv := dependentView{ref: dep.ref, deletingDependents: dep.deletingDependents}
		for _, o := range dep.owners {
			if o.UID == uid && blocks(o) {
				dv.blocking = true
			}
		}
		v.dependents = append(v.dependents, dv)
	}
	return v, true
}
