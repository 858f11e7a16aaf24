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
// masqueraded (Config.ClusterCIDR, which the agent reads from the cluster
// network ConfigMap the server publishes; against a server that publishes
// none the node's pod CIDR stands in, and traffic from pods on other nodes
// is masqueraded too), as is hairpin traffic (a pod reaching
// itself), traffic whose DNAT sends it back to the pod network it came
// from (pods on one bridge would otherwise answer each other over L2,
// around conntrack, unless br_netfilter is loaded; with it the rule is
// harmless), and NodePort traffic to 127.0.0.1, for which the proxy sets
// net.ipv4.conf.all.route_localnet=1 when it is not already set.
//
// Object layout (as kube-proxy's nftables mode, smaller): the services
// chain looks the destination up in the service-ips verdict map (ClusterIPs,
// externalIPs, load balancer IPs) and, for the node's addresses, in
// service-nodeports; each Service port has a dispatch chain (svc-, and
// local- for the traffic policies Local) that DNATs by numgen to its
// endpoints, an ext- chain for outside traffic, and, only with session
// affinity (or without a pod CIDR), one chain and one timeout set per
// endpoint. Services without usable endpoints are in the no-endpoint maps,
// looked up by filter chains that answer TCP with a reset and others with
// ICMP port unreachable. Every nft run reads the table, so fewer chains
// means faster updates.
//
// With br_netfilter loaded, a pod reaching itself through a Service is
// bridged back out the port it came in by: the pod's bridge port needs
// hairpin mode (the CNI bridge plugin's hairpinMode), which the runtime
// sets, not the proxy.
package proxy
