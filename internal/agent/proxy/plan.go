package proxy

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/knftables"
)

// Names of the table's shared objects.
const (
	chainServices      = "services"
	chainMarkMasq      = "mark-for-masquerade"
	chainMasquerading  = "masquerading"
	chainEndpointCheck = "endpoints-check"
	chainReject        = "reject-chain"
	mapServiceIPs      = "service-ips"
	mapNodePorts       = "service-nodeports"
	mapNoEndpointIPs   = "no-endpoint-services"
	mapNoEndpointPorts = "no-endpoint-nodeports"
	setNodePortIPs     = "nodeport-ips"
	setClusterIPs      = "cluster-ips"

	// masqMark is the packet mark bit that asks the masquerading chain to
	// SNAT, as kube-proxy's 0x4000.
	masqMark = "0x4000"

	ipPortProtoType = "ipv4_addr . inet_proto . inet_service : verdict"
	protoPortType   = "inet_proto . inet_service : verdict"
)

// netInfo is what the planner needs to know of the node's network.
type netInfo struct {
	// MasqCIDR: traffic to a ClusterIP from outside it is masqueraded. When
	// invalid, all of it is.
	MasqCIDR netip.Prefix
	// PodCIDR is this node's pod network; DNATed traffic from it back into
	// it is masqueraded (bridge reflection). Optional.
	PodCIDR netip.Prefix
	// NodePortIPs are the addresses NodePorts answer on (the node's and
	// 127.0.0.1).
	NodePortIPs []netip.Addr
}

// chainPlan is one regular chain and its rules, in order.
type chainPlan struct {
	Name  string
	Rules []string
}

// elemPlan is one element of one of the shared maps, or of a shared set
// when Value is empty.
type elemPlan struct {
	Map   string
	Key   []string
	Value string
}

func (e elemPlan) id() string { return e.Map + "|" + strings.Join(e.Key, " . ") }

// setPlan is a session affinity set of source addresses.
type setPlan struct {
	Name    string
	Timeout int32
}

// healthCheck is the healthCheckNodePort of an externalTrafficPolicy Local
// Service and how many local endpoints it has.
type healthCheck struct {
	Port  int32
	Local int
}

// servicePlan is every object one Service owns in the table.
type servicePlan struct {
	Chains   []chainPlan
	Elements []elemPlan
	Sets     []setPlan
	Health   *healthCheck
}

// hashName is a short stable hash for object names.
func hashName(s string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return fmt.Sprintf("%016x", h.Sum64())[:12]
}

func protoName(sp *servicePort) string { return strings.ToLower(string(sp.Key.Protocol)) }

func chainName(prefix string, sp *servicePort) string {
	return prefix + "-" + hashName(sp.Key.String()) + "-" + sp.Key.String()
}

func endpointChainName(sp *servicePort, e endpoint) string {
	ap := netip.AddrPortFrom(e.IP, uint16(e.Port))
	return "ep-" + hashName(sp.Key.String()+"|"+ap.String()) + "-" + sp.Key.String() + "__" + e.IP.String() + "/" + fmt.Sprint(e.Port)
}

func affinitySetName(sp *servicePort, e endpoint) string {
	ap := netip.AddrPortFrom(e.IP, uint16(e.Port))
	return "aff-" + hashName(sp.Key.String()+"|"+ap.String())
}

// planService computes the objects of all ports of one Service.
func planService(ports []servicePort, n netInfo) servicePlan {
	var p servicePlan
	for i := range ports {
		planPort(&p, &ports[i], n)
	}
	return p
}

func planPort(p *servicePlan, sp *servicePort, n netInfo) {
	proto := protoName(sp)
	clusterEPs := usable(sp.Endpoints, false)
	localEPs := usable(sp.Endpoints, true)
	internal := clusterEPs
	if sp.InternalLocal {
		internal = localEPs
	}
	external := clusterEPs
	if sp.ExternalLocal {
		external = localEPs
	}

	// Endpoint chains, one per endpoint used by either path.
	epChains := map[netip.AddrPort]string{}
	addEndpoints := func(eps []endpoint) {
		for _, e := range eps {
			ap := netip.AddrPortFrom(e.IP, uint16(e.Port))
			if _, ok := epChains[ap]; ok {
				continue
			}
			name := endpointChainName(sp, e)
			epChains[ap] = name
			rules := []string{fmt.Sprintf("ip saddr %s jump %s", e.IP, chainMarkMasq)}
			if sp.AffinitySeconds > 0 {
				set := affinitySetName(sp, e)
				p.Sets = append(p.Sets, setPlan{Name: set, Timeout: sp.AffinitySeconds})
				rules = append(rules, fmt.Sprintf("update @%s { ip saddr }", set))
			}
			rules = append(rules, fmt.Sprintf("meta l4proto %s dnat to %s", proto, netip.AddrPortFrom(e.IP, uint16(e.Port))))
			p.Chains = append(p.Chains, chainPlan{Name: name, Rules: rules})
		}
	}

	// Dispatch chains: all usable endpoints (svc-) and local ones (local-).
	// Without session affinity, and when the pod CIDR's reflection rule
	// already masquerades hairpin traffic, the chain DNATs by itself: no
	// chain per endpoint, which keeps the table (and every nft run, which
	// reads the table's chains) small.
	direct := sp.AffinitySeconds == 0 && n.PodCIDR.IsValid()
	dispatch := func(name string, eps []endpoint) {
		var rules []string
		switch {
		case len(eps) == 0:
			rules = append(rules, "drop")
		case direct && len(eps) == 1:
			rules = append(rules, fmt.Sprintf("meta l4proto %s dnat to %s", proto, netip.AddrPortFrom(eps[0].IP, uint16(eps[0].Port))))
		case direct:
			var m []string
			for i, e := range eps {
				m = append(m, fmt.Sprintf("%d : %s . %d", i, e.IP, e.Port))
			}
			rules = append(rules, fmt.Sprintf("meta l4proto %s dnat to numgen random mod %d map { %s }", proto, len(eps), strings.Join(m, " , ")))
		default:
			addEndpoints(eps)
			if sp.AffinitySeconds > 0 {
				for _, e := range eps {
					rules = append(rules, fmt.Sprintf("ip saddr @%s goto %s", affinitySetName(sp, e),
						epChains[netip.AddrPortFrom(e.IP, uint16(e.Port))]))
				}
			}
			if len(eps) == 1 {
				rules = append(rules, "goto "+epChains[netip.AddrPortFrom(eps[0].IP, uint16(eps[0].Port))])
				break
			}
			var vm []string
			for i, e := range eps {
				vm = append(vm, fmt.Sprintf("%d : goto %s", i, epChains[netip.AddrPortFrom(e.IP, uint16(e.Port))]))
			}
			rules = append(rules, fmt.Sprintf("numgen random mod %d vmap { %s }", len(eps), strings.Join(vm, " , ")))
		}
		p.Chains = append(p.Chains, chainPlan{Name: name, Rules: rules})
	}
	svcChain, localChain := chainName("svc", sp), chainName("local", sp)
	// svc- serves the ClusterIP (unless internalTrafficPolicy Local) and
	// external traffic (all of it, or, with externalTrafficPolicy Local,
	// what comes from the node and its pods).
	needSvc := len(clusterEPs) > 0 && (!sp.InternalLocal || sp.hasExternal())
	needLocal := len(localEPs) > 0 && (sp.InternalLocal || (sp.hasExternal() && sp.ExternalLocal))
	if needSvc {
		dispatch(svcChain, clusterEPs)
	}
	if needLocal {
		dispatch(localChain, localEPs)
	}
	target := func(local bool) string {
		if local {
			return localChain
		}
		return svcChain
	}

	// The ClusterIP: masquerade what comes from outside the pod network,
	// then dispatch.
	cipKey := []string{sp.ClusterIP.String(), proto, fmt.Sprint(sp.Port)}
	if len(internal) == 0 {
		verdict := "goto " + chainReject
		if sp.InternalLocal && len(clusterEPs) > 0 {
			verdict = "drop" // endpoints elsewhere, none here: as kube-proxy
		}
		p.Elements = append(p.Elements, elemPlan{Map: mapNoEndpointIPs, Key: cipKey, Value: verdict})
	} else {
		// The services chain masquerades what reaches a ClusterIP from
		// outside the pod network (setClusterIPs), then dispatches.
		p.Elements = append(p.Elements,
			elemPlan{Map: setClusterIPs, Key: cipKey},
			elemPlan{Map: mapServiceIPs, Key: cipKey, Value: "goto " + target(sp.InternalLocal)})
	}

	if !sp.hasExternal() {
		return
	}
	var extKeys []elemPlan
	for _, ip := range sp.ExternalIPs {
		extKeys = append(extKeys, elemPlan{Map: mapServiceIPs, Key: []string{ip.String(), proto, fmt.Sprint(sp.Port)}})
	}
	if sp.NodePort != 0 {
		extKeys = append(extKeys, elemPlan{Map: mapNodePorts, Key: []string{proto, fmt.Sprint(sp.NodePort)}})
	}
	if len(external) == 0 {
		verdict := "goto " + chainReject
		if sp.ExternalLocal && len(clusterEPs) > 0 {
			verdict = "drop"
		}
		for _, e := range extKeys {
			e.Map = map[string]string{mapServiceIPs: mapNoEndpointIPs, mapNodePorts: mapNoEndpointPorts}[e.Map]
			e.Value = verdict
			p.Elements = append(p.Elements, e)
		}
	} else {
		extChain := chainName("ext", sp)
		var rules []string
		if !sp.ExternalLocal {
			rules = []string{"jump " + chainMarkMasq, "goto " + svcChain}
		} else {
			// Traffic from the node itself and from pods may go to any
			// endpoint; only outside traffic is kept local, unmasqueraded.
			rules = []string{"fib saddr type local jump " + chainMarkMasq}
			if len(clusterEPs) > 0 {
				rules = append(rules, "fib saddr type local goto "+svcChain)
				if n.MasqCIDR.IsValid() {
					rules = append(rules, fmt.Sprintf("ip saddr %s goto %s", n.MasqCIDR, svcChain))
				}
			}
			rules = append(rules, "goto "+localChain)
		}
		p.Chains = append(p.Chains, chainPlan{Name: extChain, Rules: rules})
		for _, e := range extKeys {
			e.Value = "goto " + extChain
			p.Elements = append(p.Elements, e)
		}
	}
	if sp.HealthCheckNodePort != 0 && p.Health == nil {
		p.Health = &healthCheck{Port: sp.HealthCheckNodePort, Local: len(localEPs)}
	}
}

// clusterMasq is the services chain's rule that masquerades traffic to a
// ClusterIP from outside the pod network (all of it when that is unknown).
func clusterMasq(n netInfo) string {
	r := "ip daddr . meta l4proto . th dport @" + setClusterIPs
	if n.MasqCIDR.IsValid() {
		r += fmt.Sprintf(" ip saddr != %s", n.MasqCIDR)
	}
	return r + " jump " + chainMarkMasq
}

// planBase computes the table's shared chains, maps and sets, in the order
// they must be created.
func planBase(n netInfo) []knftables.Object {
	ptr := knftables.PtrTo[string]
	base := func(name string, t knftables.BaseChainType, h knftables.BaseChainHook, prio knftables.BaseChainPriority) *knftables.Chain {
		return &knftables.Chain{Name: name, Type: &t, Hook: &h, Priority: &prio}
	}
	objs := []knftables.Object{
		&knftables.Table{Comment: ptr("skiff service proxy")},
		&knftables.Chain{Name: chainMarkMasq},
		&knftables.Rule{Chain: chainMarkMasq, Rule: "mark set mark or " + masqMark},
		&knftables.Chain{Name: chainMasquerading},
		&knftables.Rule{Chain: chainMasquerading, Rule: fmt.Sprintf("mark and %s == 0 return", masqMark)},
		&knftables.Rule{Chain: chainMasquerading, Rule: "mark set mark xor " + masqMark},
		&knftables.Rule{Chain: chainMasquerading, Rule: "masquerade fully-random"},
		&knftables.Chain{Name: chainReject},
		// TCP gets a reset (not rate-limited as ICMP errors are, so every
		// connection fails at once), the others an ICMP port unreachable.
		&knftables.Rule{Chain: chainReject, Rule: "meta l4proto tcp reject with tcp reset"},
		&knftables.Rule{Chain: chainReject, Rule: "reject"},
		&knftables.Set{Name: setNodePortIPs, Type: "ipv4_addr"},
		&knftables.Map{Name: mapServiceIPs, Type: ipPortProtoType},
		&knftables.Map{Name: mapNodePorts, Type: protoPortType},
		&knftables.Map{Name: mapNoEndpointIPs, Type: ipPortProtoType},
		&knftables.Map{Name: mapNoEndpointPorts, Type: protoPortType},
		&knftables.Set{Name: setClusterIPs, Type: "ipv4_addr . inet_proto . inet_service"},
		&knftables.Chain{Name: chainServices},
		&knftables.Rule{Chain: chainServices, Rule: clusterMasq(n)},
		&knftables.Rule{Chain: chainServices, Rule: "ip daddr . meta l4proto . th dport vmap @" + mapServiceIPs},
		&knftables.Rule{Chain: chainServices, Rule: fmt.Sprintf("ip daddr @%s meta l4proto . th dport vmap @%s", setNodePortIPs, mapNodePorts)},
		&knftables.Chain{Name: chainEndpointCheck},
		&knftables.Rule{Chain: chainEndpointCheck, Rule: "ip daddr . meta l4proto . th dport vmap @" + mapNoEndpointIPs},
		&knftables.Rule{Chain: chainEndpointCheck, Rule: fmt.Sprintf("ip daddr @%s meta l4proto . th dport vmap @%s", setNodePortIPs, mapNoEndpointPorts)},
	}
	for _, h := range []knftables.BaseChainHook{knftables.InputHook, knftables.ForwardHook, knftables.OutputHook} {
		name := "filter-" + string(h)
		objs = append(objs, base(name, knftables.FilterType, h, knftables.FilterPriority))
		objs = append(objs, &knftables.Rule{Chain: name, Rule: "ct state new jump " + chainEndpointCheck})
	}
	objs = append(objs,
		base("nat-prerouting", knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority),
		&knftables.Rule{Chain: "nat-prerouting", Rule: "jump " + chainServices},
		base("nat-output", knftables.NATType, knftables.OutputHook, knftables.DNATPriority),
		&knftables.Rule{Chain: "nat-output", Rule: "jump " + chainServices},
		base("nat-postrouting", knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority),
	)
	if n.PodCIDR.IsValid() {
		// Bridge reflection: a pod that reaches a Service whose endpoint is
		// on the same pod network must see the reply come back through the
		// node, not directly over L2.
		objs = append(objs, &knftables.Rule{Chain: "nat-postrouting",
			Rule: fmt.Sprintf("ct status dnat ip saddr %s ip daddr %s masquerade fully-random", n.PodCIDR, n.PodCIDR)})
	}
	objs = append(objs, &knftables.Rule{Chain: "nat-postrouting", Rule: "jump " + chainMasquerading})
	for _, ip := range n.NodePortIPs {
		objs = append(objs, &knftables.Element{Set: setNodePortIPs, Key: []string{ip.String()}})
	}
	return objs
}

// Sorted helpers used by the applier and tests.

func (p *servicePlan) chainMap() map[string]chainPlan {
	m := make(map[string]chainPlan, len(p.Chains))
	for _, c := range p.Chains {
		m[c.Name] = c
	}
	return m
}

func (p *servicePlan) elemMap() map[string]elemPlan {
	m := make(map[string]elemPlan, len(p.Elements))
	for _, e := range p.Elements {
		m[e.id()] = e
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// serviceKey is a Service's namespace/name.
type serviceKey = types.NamespacedName

func sortKeys(ks []serviceKey) {
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].Namespace != ks[j].Namespace {
			return ks[i].Namespace < ks[j].Namespace
		}
		return ks[i].Name < ks[j].Name
	})
}
