// Package netpol enforces networking.k8s.io/v1 NetworkPolicies for the pods
// of one node with nftables (sigs.k8s.io/knftables), as k3s' embedded policy
// controller does with iptables.
//
// It watches NetworkPolicies, Pods and Namespaces through the API server.
// plan.go decides: from the policies, the pods of the whole cluster and the
// namespaces it computes the nftables objects this node needs (a pure
// function, table-tested). apply.go acts: it writes the difference between
// the last plan and the new one in one transaction. netpol.go holds the
// informers and the loop that coalesces changes.
//
// # Where traffic is judged
//
// One table of the ip family, named per node and data dir (TableName), with
// three base chains: "egress" and "ingress" on the forward hook, and
// "egress-host" on the input hook (a pod reaching the node itself, such as
// cluster DNS, which skiff serves from the host). Each first accepts
// established and related connections (conntrack), then looks the packet's
// source (egress) or destination (ingress) up in a verdict map of this
// node's isolated pods, which jumps to a chain shared by the pods that the
// same policies select. That chain jumps to each policy's chain, whose
// rules accept what the policy allows, and drops the rest: several policies
// are a union, and a policy without rules is a default deny. Accepting in
// "egress" ends only that base chain, so the packet is still judged by
// "ingress": both the sender's egress and the receiver's ingress must allow
// a connection, as in Kubernetes.
//
// Traffic from the node's own host to its pods (probes, kubectl
// port-forward) goes through the output hook and is never policed, as
// Kubernetes requires for probes.
//
// Services: the service proxy DNATs in prerouting, before the forward hook,
// so traffic through a ClusterIP or NodePort is judged by the pod behind
// it, with the client's own source address (the proxy's masquerade happens
// later, in postrouting). A port of an egress rule matches the endpoint's
// port, as in Kubernetes, and also the Service port the pod dialled (the
// conntrack original destination): skiff's cluster DNS answers on a port of
// its own behind the kube-dns Service, and "allow port 53" must let pods
// resolve names. Ingress ports match the pod's own ports only.
//
// # Pods on one bridge
//
// Pods of a node share a Linux bridge (the process runtime's skiff0, the
// CNI bridge plugin's under containerd). Frames between two ports of a
// bridge never reach the ip family's forward hook unless br_netfilter is
// loaded and net.bridge.bridge-nf-call-iptables is 1. The controller sets
// that sysctl when it can (as kube-proxy and k3s require it) rather than
// keeping a second rule set in the bridge family: bridge-family chains
// would need nf_conntrack_bridge for established connections, and would see
// Service traffic before the proxy's DNAT. Without br_netfilter, traffic
// between pods of the same node is not policed; the controller logs this.
//
// Only IPv4 is policed, as the service proxy programs only IPv4. Host-network
// pods are neither isolated nor peers (their address is the node's).
// Named ports resolve against each pod's containerPorts: an ingress rule's
// against the selected pod, an egress rule's against the destination pods.
package netpol
