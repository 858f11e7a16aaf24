package scheduler

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// nodeCache is the scheduler's view of the nodes and of what runs on them:
// the pods the informer reports as assigned plus the pods this scheduler has
// placed but the informer has not delivered yet (assumed pods). Placing a
// pod assumes it under the same lock as the decision, so the next pod sees
// the first one's usage without waiting for a watch event.
type nodeCache struct {
	mu    sync.Mutex
	nodes map[string]*framework.NodeInfo
	// list holds the nodes that have a Node object, in a stable order the
	// algorithm walks; it is rebuilt after nodes come or go.
	list  []*framework.NodeInfo
	dirty bool
	pods  map[types.UID]*podState
}

type podState struct {
	pi      *framework.PodInfo
	node    string
	assumed bool
}

func newNodeCache() *nodeCache {
	return &nodeCache{nodes: map[string]*framework.NodeInfo{}, pods: map[types.UID]*podState{}}
}

func (c *nodeCache) nodeInfo(name string) *framework.NodeInfo {
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
	n := c.nodeInfo(node.Name)
	if n.Node() == nil {
		c.dirty = true
	}
	n.SetNode(node)
}

func (c *nodeCache) removeNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[name]
	if n == nil {
		return
	}
	c.dirty = true
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

// schedule runs alg for pi over the current nodes and, on success, assumes
// the pod on the chosen node before anyone else looks.
func (c *nodeCache) schedule(alg *framework.Algorithm, pi *framework.PodInfo) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirty {
		c.list = c.list[:0]
		for _, n := range c.nodes {
			if n.Node() != nil {
				c.list = append(c.list, n)
			}
		}
		c.dirty = false
	}
	n, err := alg.Schedule(pi, c.list)
	if err != nil {
		return "", err
	}
	name := n.Node().Name
	n.AddPod(pi)
	c.pods[pi.Pod.UID] = &podState{pi: pi, node: name, assumed: true}
	return name, nil
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
