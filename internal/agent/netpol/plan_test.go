package netpol

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

const node = "node-a"

func pod(ns, name, ip, nodeName string, lbls map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls},
		Spec:       corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c", Ports: ports}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
}

func namespace(name string, lbls map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
}

func policy(ns, name string, sel map[string]string, mutate func(*networkingv1.NetworkPolicySpec)) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: sel}}}
	if mutate != nil {
		mutate(&np.Spec)
	}
	return np
}

func tcp(port int32) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(port))}
}

func selector(lbls map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: lbls}
}

var (
	model  = map[string]string{"app": "model"}
	client = map[string]string{"role": "client"}
)

// cluster: two model pods (one here, one on another node), a client and
// another pod here, a pod in a second namespace, a host-network pod, a
// finished pod.
func cluster() ([]*corev1.Pod, []*corev1.Namespace) {
	hostNet := pod("prod", "host", "192.168.1.5", node, model)
	hostNet.Spec.HostNetwork = true
	done := pod("prod", "done", "10.0.0.9", node, model)
	done.Status.Phase = corev1.PodSucceeded
	return []*corev1.Pod{
			pod("prod", "model-a", "10.0.0.2", node, model, corev1.ContainerPort{Name: "http", ContainerPort: 8000}),
			pod("prod", "model-b", "10.0.1.2", "node-b", model, corev1.ContainerPort{Name: "http", ContainerPort: 8080}),
			pod("prod", "client", "10.0.0.3", node, client),
			pod("prod", "other", "10.0.0.4", node, nil),
			pod("dev", "client", "10.0.1.3", "node-b", client),
			hostNet, done,
		}, []*corev1.Namespace{
			namespace("prod", map[string]string{"env": "prod"}),
			namespace("dev", map[string]string{"env": "dev"}),
		}
}

func TestCompute(t *testing.T) {
	in := func(np *networkingv1.NetworkPolicy) string { return policyChain(np, dirIngress) }
	eg := func(np *networkingv1.NetworkPolicy) string { return policyChain(np, dirEgress) }
	denyAll := policy("prod", "deny", nil, nil)
	denyModel := policy("prod", "deny", model, nil)
	onlyClients := policy("prod", "clients", model, func(s *networkingv1.NetworkPolicySpec) {
		s.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: selector(client)}},
			Ports: []networkingv1.NetworkPolicyPort{tcp(8000)},
		}}
	})
	fromProdNS := policy("prod", "ns", model, func(s *networkingv1.NetworkPolicySpec) {
		s.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: selector(map[string]string{"env": "dev"})}}}}
	})
	clientsOfAnyNS := policy("prod", "both", model, func(s *networkingv1.NetworkPolicySpec) {
		s.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{}, PodSelector: selector(client)}}}}
	})
	block := policy("prod", "block", model, func(s *networkingv1.NetworkPolicySpec) {
		s.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{
				{IPBlock: &networkingv1.IPBlock{CIDR: "172.16.0.0/12", Except: []string{"172.17.0.0/16"}}},
				{IPBlock: &networkingv1.IPBlock{CIDR: "fd00::/8"}},
			},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(9000)), EndPort: ptr.To[int32](9100)}},
		}}
	})
	named := policy("prod", "named", model, func(s *networkingv1.NetworkPolicySpec) {
		s.Ingress = []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{
			{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromString("http"))},
			{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromString("http"))},
		}}}
	})
	dns := policy("prod", "dns", client, func(s *networkingv1.NetworkPolicySpec) {
		s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		s.Egress = []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{
			{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))},
		}}, {
			To:    []networkingv1.NetworkPolicyPeer{{PodSelector: selector(model)}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromString("http"))}},
		}}
	})
	allowAll := policy("prod", "all", model, func(s *networkingv1.NetworkPolicySpec) {
		s.Ingress = []networkingv1.NetworkPolicyIngressRule{{}}
	})
	podsChain := func(dir direction, chains ...string) string {
		var joined string
		for i, c := range chains {
			if i > 0 {
				joined += ","
			}
			joined += c
		}
		return fmt.Sprintf("%s-pods-%s", dir.short, hashOf(joined))
	}

	tests := []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		want     Plan
	}{
		{name: "no policy isolates nothing", want: Plan{}},
		{
			name:     "an empty policy denies ingress to every local pod of its namespace",
			policies: []*networkingv1.NetworkPolicy{denyAll},
			want: Plan{
				Chains: map[string][]string{
					in(denyAll):                        {},
					podsChain(dirIngress, in(denyAll)): {"jump " + in(denyAll), "drop"},
				},
				IngressPods: map[string]string{
					"10.0.0.2": "jump " + podsChain(dirIngress, in(denyAll)),
					"10.0.0.3": "jump " + podsChain(dirIngress, in(denyAll)),
					"10.0.0.4": "jump " + podsChain(dirIngress, in(denyAll)),
				},
			},
		},
		{
			name:     "pod selector peers, numeric port; several policies are a union",
			policies: []*networkingv1.NetworkPolicy{denyModel, onlyClients},
			want: Plan{
				Chains: map[string][]string{
					in(denyModel):   {},
					in(onlyClients): {"ip saddr @" + podSetName("prod", onlyClients.Spec.Ingress[0].From) + " meta l4proto tcp th dport 8000 accept"},
					// Sorted by namespace/name: clients before deny.
					podsChain(dirIngress, in(onlyClients), in(denyModel)): {"jump " + in(onlyClients), "jump " + in(denyModel), "drop"},
				},
				Sets:        map[string]Set{podSetName("prod", onlyClients.Spec.Ingress[0].From): {Elements: []string{"10.0.0.3"}}},
				IngressPods: map[string]string{"10.0.0.2": "jump " + podsChain(dirIngress, in(onlyClients), in(denyModel))},
			},
		},
		{
			name:     "namespace selector peers: every pod of the namespaces, on any node",
			policies: []*networkingv1.NetworkPolicy{fromProdNS},
			want: Plan{
				Chains: map[string][]string{
					in(fromProdNS):                        {"ip saddr @" + podSetName("prod", fromProdNS.Spec.Ingress[0].From) + " accept"},
					podsChain(dirIngress, in(fromProdNS)): {"jump " + in(fromProdNS), "drop"},
				},
				Sets:        map[string]Set{podSetName("prod", fromProdNS.Spec.Ingress[0].From): {Elements: []string{"10.0.1.3"}}},
				IngressPods: map[string]string{"10.0.0.2": "jump " + podsChain(dirIngress, in(fromProdNS))},
			},
		},
		{
			name:     "namespace and pod selector together",
			policies: []*networkingv1.NetworkPolicy{clientsOfAnyNS},
			want: Plan{
				Chains: map[string][]string{
					in(clientsOfAnyNS):                        {"ip saddr @" + podSetName("prod", clientsOfAnyNS.Spec.Ingress[0].From) + " accept"},
					podsChain(dirIngress, in(clientsOfAnyNS)): {"jump " + in(clientsOfAnyNS), "drop"},
				},
				Sets:        map[string]Set{podSetName("prod", clientsOfAnyNS.Spec.Ingress[0].From): {Elements: []string{"10.0.0.3", "10.0.1.3"}}},
				IngressPods: map[string]string{"10.0.0.2": "jump " + podsChain(dirIngress, in(clientsOfAnyNS))},
			},
		},
		{
			name:     "ipBlock with except, port range; IPv6 blocks skipped",
			policies: []*networkingv1.NetworkPolicy{block},
			want: Plan{
				Chains: map[string][]string{
					in(block):                        {"ip saddr @" + cidrSetName(block.Spec.Ingress[0].From) + " meta l4proto udp th dport 9000-9100 accept"},
					podsChain(dirIngress, in(block)): {"jump " + in(block), "drop"},
				},
				Sets:        map[string]Set{cidrSetName(block.Spec.Ingress[0].From): {Interval: true, Elements: []string{"172.16.0.0-172.16.255.255", "172.18.0.0-172.31.255.255"}}},
				IngressPods: map[string]string{"10.0.0.2": "jump " + podsChain(dirIngress, in(block))},
			},
		},
		{
			name:     "named ports resolve per selected pod and protocol",
			policies: []*networkingv1.NetworkPolicy{named},
			want: Plan{
				Chains: map[string][]string{
					in(named):                        {"ip daddr { 10.0.0.2 } meta l4proto tcp th dport 8000 accept"},
					podsChain(dirIngress, in(named)): {"jump " + in(named), "drop"},
				},
				IngressPods: map[string]string{"10.0.0.2": "jump " + podsChain(dirIngress, in(named))},
			},
		},
		{
			name:     "egress: a port matches the endpoint's or the dialled Service port; named ports per destination pod",
			policies: []*networkingv1.NetworkPolicy{dns},
			want: Plan{
				Chains: map[string][]string{
					eg(dns): {
						"meta l4proto udp th dport 53 accept",
						"meta l4proto udp ct status dnat ct original proto-dst 53 accept",
						"ip daddr @" + podSetName("prod", dns.Spec.Egress[1].To) + " ip daddr { 10.0.0.2 } meta l4proto tcp th dport 8000 accept",
						"ip daddr @" + podSetName("prod", dns.Spec.Egress[1].To) + " ip daddr { 10.0.1.2 } meta l4proto tcp th dport 8080 accept",
					},
					podsChain(dirEgress, eg(dns)): {"jump " + eg(dns), "drop"},
				},
				Sets:       map[string]Set{podSetName("prod", dns.Spec.Egress[1].To): {Elements: []string{"10.0.0.2", "10.0.1.2"}}},
				EgressPods: map[string]string{"10.0.0.3": "jump " + podsChain(dirEgress, eg(dns))},
			},
		},
		{
			name:     "a rule without peers or ports allows everything",
			policies: []*networkingv1.NetworkPolicy{allowAll},
			want: Plan{
				Chains: map[string][]string{
					in(allowAll):                        {"accept"},
					podsChain(dirIngress, in(allowAll)): {"jump " + in(allowAll), "drop"},
				},
				IngressPods: map[string]string{"10.0.0.2": "jump " + podsChain(dirIngress, in(allowAll))},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pods, nss := cluster()
			got := Compute(tt.policies, pods, nss, node)
			want := tt.want
			for _, m := range []*map[string]string{&want.IngressPods, &want.EgressPods} {
				if *m == nil {
					*m = map[string]string{}
				}
			}
			if want.Chains == nil {
				want.Chains = map[string][]string{}
			}
			if want.Sets == nil {
				want.Sets = map[string]Set{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("plan:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestBlockRanges(t *testing.T) {
	block := func(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
	}
	tests := []struct {
		name  string
		peers []networkingv1.NetworkPolicyPeer
		want  []string
	}{
		{"one address", []networkingv1.NetworkPolicyPeer{block("10.0.0.1/32")}, []string{"10.0.0.1"}},
		{"host bits ignored", []networkingv1.NetworkPolicyPeer{block("10.0.0.7/30")}, []string{"10.0.0.4-10.0.0.7"}},
		{"except in the middle", []networkingv1.NetworkPolicyPeer{block("10.0.0.0/24", "10.0.0.128/25", "10.0.0.0/26")}, []string{"10.0.0.64-10.0.0.127"}},
		{"overlapping and adjacent blocks merge", []networkingv1.NetworkPolicyPeer{block("10.0.0.0/25"), block("10.0.0.128/25"), block("10.0.0.0/26")}, []string{"10.0.0.0-10.0.0.255"}},
		{"everything", []networkingv1.NetworkPolicyPeer{block("0.0.0.0/0", "10.0.0.0/8")}, []string{"0.0.0.0-9.255.255.255", "11.0.0.0-255.255.255.255"}},
		{"except of another block does not apply", []networkingv1.NetworkPolicyPeer{block("10.0.0.0/24", "10.0.0.0/25"), block("10.0.0.0/25")}, []string{"10.0.0.0-10.0.0.255"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := blockRanges(tt.peers); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("blockRanges = %v, want %v", got, tt.want)
			}
		})
	}
}
