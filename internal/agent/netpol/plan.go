package netpol

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Names of the fixed objects of the table.
const (
	ingressChain    = "ingress"
	egressChain     = "egress"
	egressHostChain = "egress-host"
	ingressPodsMap  = "ingress-pods"
	egressPodsMap   = "egress-pods"
)

// Plan is what the table must hold besides its fixed objects: the chains
// (name to rules), the sets of addresses (name to set) and the elements of
// the two verdict maps (pod address to verdict).
type Plan struct {
	Chains      map[string][]string
	Sets        map[string]Set
	IngressPods map[string]string
	EgressPods  map[string]string
}

// Set is a set of IPv4 addresses; an Interval set holds ranges.
type Set struct {
	Interval bool
	Elements []string
}

// direction is ingress or egress.
type direction struct {
	policyType networkingv1.PolicyType
	short      string // "in", "eg": chain and set names
	peerAddr   string // the peer's address field: "ip saddr", "ip daddr"
}

var (
	dirIngress = direction{networkingv1.PolicyTypeIngress, "in", "ip saddr"}
	dirEgress  = direction{networkingv1.PolicyTypeEgress, "eg", "ip daddr"}
)

// podInfo is a pod as the plan needs it.
type podInfo struct {
	pod  *corev1.Pod
	ip   string
	lbls labels.Set
}

// Compute decides the table's content for node nodeName from every policy,
// pod and namespace of the cluster. It is pure: the same input gives the
// same plan.
func Compute(policies []*networkingv1.NetworkPolicy, pods []*corev1.Pod, namespaces []*corev1.Namespace, nodeName string) Plan {
	p := Plan{Chains: map[string][]string{}, Sets: map[string]Set{}, IngressPods: map[string]string{}, EgressPods: map[string]string{}}
	nsLabels := make(map[string]labels.Set, len(namespaces))
	for _, ns := range namespaces {
		nsLabels[ns.Name] = labels.Set(ns.Labels)
	}
	var all []podInfo
	byNS := map[string][]podInfo{}
	for _, pod := range pods {
		ip, ok := policedIP(pod)
		if !ok {
			continue
		}
		pi := podInfo{pod: pod, ip: ip, lbls: labels.Set(pod.Labels)}
		all = append(all, pi)
		byNS[pod.Namespace] = append(byNS[pod.Namespace], pi)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ip < all[j].ip })

	policies = append([]*networkingv1.NetworkPolicy(nil), policies...)
	sort.Slice(policies, func(i, j int) bool { return policyKey(policies[i]) < policyKey(policies[j]) })
	// selected[dir][pod IP] lists the chains of the policies isolating it.
	selected := map[string]map[string][]string{dirIngress.short: {}, dirEgress.short: {}}
	for _, np := range policies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			continue // validation forbids it; an unreadable selector selects nothing
		}
		var local []podInfo
		for _, pi := range byNS[np.Namespace] {
			if pi.pod.Spec.NodeName == nodeName && sel.Matches(pi.lbls) {
				local = append(local, pi)
			}
		}
		if len(local) == 0 {
			continue
		}
		for _, dir := range []direction{dirIngress, dirEgress} {
			if !hasType(np, dir.policyType) {
				continue
			}
			chain := policyChain(np, dir)
			p.Chains[chain] = p.policyRules(np, dir, local, all, byNS, nsLabels)
			for _, pi := range local {
				selected[dir.short][pi.ip] = append(selected[dir.short][pi.ip], chain)
			}
		}
	}
	for _, dir := range []direction{dirIngress, dirEgress} {
		vmap := p.IngressPods
		if dir == dirEgress {
			vmap = p.EgressPods
		}
		for ip, chains := range selected[dir.short] {
			name := fmt.Sprintf("%s-pods-%s", dir.short, hashOf(strings.Join(chains, ",")))
			if _, ok := p.Chains[name]; !ok {
				rules := make([]string, 0, len(chains)+1)
				for _, c := range chains {
					rules = append(rules, "jump "+c)
				}
				p.Chains[name] = append(rules, "drop")
			}
			vmap[ip] = "jump " + name
		}
	}
	return p
}

// policedIP is the pod's IPv4 address, when the pod takes part in policy:
// it has one, is not on the host network and has not finished.
func policedIP(pod *corev1.Pod) (string, bool) {
	if pod.Spec.HostNetwork || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return "", false
	}
	ips := []string{pod.Status.PodIP}
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			return a.String(), true
		}
	}
	return "", false
}

func hasType(np *networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	types := np.Spec.PolicyTypes
	if len(types) == 0 { // not defaulted (tests): as the API server would
		types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) > 0 {
			types = append(types, networkingv1.PolicyTypeEgress)
		}
	}
	for _, have := range types {
		if have == t {
			return true
		}
	}
	return false
}

func policyKey(np *networkingv1.NetworkPolicy) string { return np.Namespace + "/" + np.Name }

func policyChain(np *networkingv1.NetworkPolicy, dir direction) string {
	return fmt.Sprintf("pol-%s-%s", hashOf(policyKey(np)), dir.short)
}

func hashOf(s string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return fmt.Sprintf("%016x", h.Sum64())
}

// policyRules are the rules of one policy's chain for one direction; every
// rule accepts what one of the policy's rules allows. The chain returns
// what none allows to the pods' chain, which drops it.
func (p *Plan) policyRules(np *networkingv1.NetworkPolicy, dir direction, local, all []podInfo, byNS map[string][]podInfo, nsLabels map[string]labels.Set) []string {
	type rule struct {
		peers []networkingv1.NetworkPolicyPeer
		ports []networkingv1.NetworkPolicyPort
	}
	var rules []rule
	if dir == dirIngress {
		for _, r := range np.Spec.Ingress {
			rules = append(rules, rule{r.From, r.Ports})
		}
	} else {
		for _, r := range np.Spec.Egress {
			rules = append(rules, rule{r.To, r.Ports})
		}
	}
	out := []string{}
	for _, r := range rules {
		// The peers: any address, or a set of pods and a set of CIDRs,
		// shared by the rules that name the same peers.
		var matches []string
		var peerPods []podInfo
		if len(r.peers) == 0 {
			matches = []string{""}
			peerPods = all
		} else {
			peerPods = selectPeers(np.Namespace, r.peers, all, byNS, nsLabels)
			if len(peerPods) > 0 {
				name := podSetName(np.Namespace, r.peers)
				if _, done := p.Sets[name]; !done {
					ips := make([]string, 0, len(peerPods))
					for _, pi := range peerPods {
						ips = append(ips, pi.ip)
					}
					p.Sets[name] = Set{Elements: dedupSorted(ips)}
				}
				matches = append(matches, fmt.Sprintf("%s @%s ", dir.peerAddr, name))
			}
			if ranges := blockRanges(r.peers); len(ranges) > 0 {
				name := cidrSetName(r.peers)
				p.Sets[name] = Set{Interval: true, Elements: ranges}
				matches = append(matches, fmt.Sprintf("%s @%s ", dir.peerAddr, name))
			}
		}
		for _, m := range matches {
			if len(r.ports) == 0 {
				out = append(out, m+"accept")
				continue
			}
			for _, port := range r.ports {
				out = append(out, portRules(m, port, dir, local, peerPods)...)
			}
		}
	}
	return out
}

// portRules are the rules that accept from (or to) the peers matched by
// peer on one port of a policy rule.
func portRules(peer string, port networkingv1.NetworkPolicyPort, dir direction, local, peerPods []podInfo) []string {
	proto := corev1.ProtocolTCP
	if port.Protocol != nil {
		proto = *port.Protocol
	}
	l4 := "meta l4proto " + strings.ToLower(string(proto)) + " "
	if port.Port == nil {
		return []string{peer + l4 + "accept"}
	}
	if port.Port.Type == intstr.Int {
		ports := fmt.Sprint(port.Port.IntVal)
		if port.EndPort != nil && *port.EndPort > port.Port.IntVal {
			ports = fmt.Sprintf("%d-%d", port.Port.IntVal, *port.EndPort)
		}
		rules := []string{peer + l4 + "th dport " + ports + " accept"}
		if dir == dirEgress {
			rules = append(rules, peer+l4+"ct status dnat ct original proto-dst "+ports+" accept")
		}
		return rules
	}
	// A named port: the pods that have it, each on its own number. For
	// ingress the pod is the one selected; for egress, the peer.
	targets := local
	if dir == dirEgress {
		targets = peerPods
	}
	byPort := map[int32][]string{}
	for _, pi := range targets {
		if n, ok := namedPort(pi.pod, port.Port.StrVal, proto); ok {
			byPort[n] = append(byPort[n], pi.ip)
		}
	}
	nums := make([]int32, 0, len(byPort))
	for n := range byPort {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	var rules []string
	for _, n := range nums {
		rules = append(rules, fmt.Sprintf("%sip daddr { %s } %sth dport %d accept", peer, strings.Join(dedupSorted(byPort[n]), ", "), l4, n))
	}
	return rules
}

// podSetName names the set of the pods that peers select for a policy of
// namespace ns: policies naming the same peers share it.
func podSetName(ns string, peers []networkingv1.NetworkPolicyPeer) string {
	var sels []networkingv1.NetworkPolicyPeer
	for _, p := range peers {
		if p.IPBlock == nil {
			sels = append(sels, p)
		}
	}
	b, _ := json.Marshal(sels)
	return "pods-" + hashOf(ns+"\x00"+string(b))
}

// cidrSetName names the set of the peers' ipBlocks.
func cidrSetName(peers []networkingv1.NetworkPolicyPeer) string {
	var blocks []*networkingv1.IPBlock
	for _, p := range peers {
		if p.IPBlock != nil {
			blocks = append(blocks, p.IPBlock)
		}
	}
	b, _ := json.Marshal(blocks)
	return "cidrs-" + hashOf(string(b))
}

func namedPort(pod *corev1.Pod, name string, proto corev1.Protocol) (int32, bool) {
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			p := cp.Protocol
			if p == "" {
				p = corev1.ProtocolTCP
			}
			if cp.Name == name && p == proto {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// selectPeers lists the pods that the policy's pod and namespace selector
// peers select (ipBlock peers are ranges, not pods).
func selectPeers(ns string, peers []networkingv1.NetworkPolicyPeer, all []podInfo, byNS map[string][]podInfo, nsLabels map[string]labels.Set) []podInfo {
	var out []podInfo
	seen := map[string]bool{}
	add := func(pi podInfo) {
		if !seen[pi.ip] {
			seen[pi.ip] = true
			out = append(out, pi)
		}
	}
	for _, peer := range peers {
		if peer.IPBlock != nil {
			continue
		}
		podSel := labels.Everything()
		if peer.PodSelector != nil {
			s, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
			if err != nil {
				continue
			}
			podSel = s
		}
		if peer.NamespaceSelector == nil {
			for _, pi := range byNS[ns] {
				if podSel.Matches(pi.lbls) {
					add(pi)
				}
			}
			continue
		}
		nsSel, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
		if err != nil {
			continue
		}
		for _, pi := range all {
			if l, ok := nsLabels[pi.pod.Namespace]; ok && nsSel.Matches(l) && podSel.Matches(pi.lbls) {
				add(pi)
			}
		}
	}
	return out
}

func dedupSorted(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
