// Package proxy is the node's service proxy: it watches Services and
// discovery.k8s.io/v1 EndpointSlices through the API server and programs the
// kernel with nftables (through sigs.k8s.io/knftables), as kube-proxy's
// nftables mode does.
//
// The work is split in three: model.go turns a Service and its slices into
// servicePorts (which endpoints serve which path), plan.go turns those into
// the nftables objects they need (pure, table-tested), and apply.go writes
// the difference between two plans in one nftables transaction. proxy.go
// holds the informers and the sync loop that coalesces changes.
//
// Everything lives in one table of the ip family, named per node and data dir
// (TableName), so that several agents on one host never touch each other's
// rules. Only IPv4 Services are programmed.
//
// Masquerade: traffic to a Service from outside the cluster CIDR is
// masqueraded (Config.ClusterCIDR; the agent, which does not know the
// cluster CIDR, gives the node's pod CIDR instead, so traffic from pods on
// other nodes is masqueraded too), as is hairpin traffic (a pod reaching
// itself), traffic whose DNAT sends it back to the pod network it came
// from (pods on one bridge would otherwise answer each other over L2,
// around conntrack, unless br_netfilter is loaded; with it the rule is
// harmless), and NodePort traffic to 127.0.0.1, for which the proxy sets
// net.ipv4.conf.all.route_localnet=1 when it is not already set.
package proxy
