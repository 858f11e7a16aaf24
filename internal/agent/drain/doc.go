// Package drain tells a kubelet when a pod being deleted has left every
// node's data plane, so that its containers get SIGTERM only once no
// service proxy routes new connections to it.
//
// The contract: every service proxy writes, after each sync that reached
// the kernel, the highest EndpointSlice resourceVersion it had seen into
// its Node's wellknown.ServiceProxySyncedAnnotation. skiff's API server
// keeps its objects in etcd, so resourceVersions are etcd revisions:
// integers that one watch delivers in increasing order. A deleted pod is
// drained once the EndpointSlices its kubelet sees no longer route to it
// (Decide) and every Ready node labelled wellknown.ServiceProxyLabel has
// acknowledged a revision at least as new as those slices. Nodes that are
// not Ready, or gone, do not hold a pod.
package drain
