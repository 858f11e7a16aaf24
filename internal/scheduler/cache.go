package scheduler

import (
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// nodeCache is the scheduler's view of the nodes and of what runs on them:
// the pods the informer reports as assigned plus the pods this scheduler has
// placed but the informer has not delivered yet (assumed pods). The
// algorithm does not run under its lock: updateSnapshot copies what changed
// into the scheduler's snapshot under the lock, the algorithm runs over the
// snapshot without it, and assume then accounts for the placed pod under
// the lock again, so the next snapshot shows it without waiting for a watch
// event.
type nodeCache struct {
	mu    sync.Mutex
	nodes map[string]*framework.NodeInfo
	pods  map[types.UID]*podState
	// changed names the nodes whose NodeInfo changed, came or went since
	// the last snapshot.
	changed map[string]struct{}
}

type podState struct {
	pi      *framework.PodInfo
	node    string
	assumed bool
}

func newNodeCache() *nodeCache {
	return &nodeCache{nodes: map[string]*framework.NodeInfo{}, pods: map[types.UID]*podState{}, changed: map[string]struct{}{}}
}

// nodeInfo returns the NodeInfo of the named node, made if need be, and
// notes that it changes.
func (c *nodeCache) nodeInfo(name string) *framework.NodeInfo {
	c.changed[name] = struct{}{}
	n := c.nodes[name]
	if n == nil {
		n = framework.NewNodeInfo(nil)
		c.nodes[name] = n
	}
	return n
}

func (c *nodeCache) setNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodeInfo(node.Name).SetNode(node)
}

func (c *nodeCache) removeNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[name]
	if n == nil {
		return
	}
	c.changed[name] = struct{}{}
	if n.Pods == 0 {
		delete(c.nodes, name)
		return
	}
	// Pods still bound there keep their usage until they go.
	n.SetNode(nil)
}

// addPod records an assigned pod the informer delivered, confirming it if
// it was assumed.
func (c *nodeCache) addPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(pod.UID)
	pi := framework.NewPodInfo(pod)
	c.nodeInfo(pod.Spec.NodeName).AddPod(pi)
	c.pods[pod.UID] = &podState{pi: pi, node: pod.Spec.NodeName}
}

// removePod forgets an assigned pod that was deleted or finished.
func (c *nodeCache) removePod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(uid)
}

func (c *nodeCache) removeLocked(uid types.UID) {
	ps := c.pods[uid]
	if ps == nil {
		return
	}
	delete(c.pods, uid)
	n := c.nodes[ps.node]
	if n == nil {
		return
	}
	c.changed[ps.node] = struct{}{}
	n.RemovePod(ps.pi)
	if n.Pods == 0 && n.Node() == nil {
		delete(c.nodes, ps.node)
	}
}

// forget drops an assumed pod whose binding failed; a pod the informer has
// confirmed meanwhile stays.
func (c *nodeCache) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps := c.pods[uid]; ps != nil && ps.assumed {
		c.removeLocked(uid)
	}
}

// known reports whether the pod is already placed (assumed or confirmed).
func (c *nodeCache) known(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pods[uid] != nil
}

// assume accounts for pi on the node the algorithm chose over a snapshot.
// It fails when the node has gone since the snapshot was taken, and
// reports false when the pod is already placed (the informer delivered it
// bound meanwhile); the caller then leaves it.
func (c *nodeCache) assume(pi *framework.PodInfo, node string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pods[pi.Pod.UID] != nil {
		return false, nil
	}
	if n := c.nodes[node]; n == nil || n.Node() == nil {
		return false, fmt.Errorf("node %s went away while the pod was being scheduled", node)
	}
	c.nodeInfo(node).AddPod(pi)
	c.pods[pi.Pod.UID] = &podState{pi: pi, node: node, assumed: true}
	return true, nil
}

// snapshot is a copy of the cache's nodes that the algorithm reads without
// the cache's lock. It belongs to the scheduling loop.
type snapshot struct {
	nodes map[string]*framework.NodeInfo
	// list holds the nodes that have a Node object, in a stable order the
	// algorithm walks; it is rebuilt after nodes come or go.
	list []*framework.NodeInfo
}

func newSnapshot() *snapshot { return &snapshot{nodes: map[string]*framework.NodeInfo{}} }

// updateSnapshot copies the nodes that changed since the last call into s,
// under the lock; the cost is that of the changes, not of the cluster.
func (c *nodeCache) updateSnapshot(s *snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	listChanged := false
	for name := range c.changed {
		n, old := c.nodes[name], s.nodes[name]
		switch {
		case n == nil || n.Node() == nil:
			if old != nil {
				delete(s.nodes, name)
				listChanged = true
			}
		case old == nil:
			s.nodes[name] = n.Clone()
			listChanged = true
		default:
			// In place, so that s.list keeps pointing at it.
			*old = *n.Clone()
		}
	}
	clear(c.changed)
	if listChanged {
		s.list = s.list[:0]
		for _, n := range s.nodes {
			s.list = append(s.list, n)
		}
	}
}

// numNodes counts the nodes with a Node object, for tests.
func (c *nodeCache) numNodes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ni := range c.nodes {
		if ni.Node() != nil {
			n++
		}
	}
	return n
}

// podsByNode returns the pods on each node, assumed ones included.
func (c *nodeCache) podsByNode() map[string][]*framework.PodInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]*framework.PodInfo{}
	for _, ps := range c.pods {
		out[ps.node] = append(out[ps.node], ps.pi)
	}
	return out
}
