package networking

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// seedNetworkPolicy lets only role=client pods reach the model on 8080.
func seedNetworkPolicy() *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "model-clients", Namespace: "production"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "ml-model"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(8080))}},
			}},
		},
	}
}

func TestNetworkPolicyDefaults(t *testing.T) {
	scheme := runtime.NewScheme()
	RegisterDefaults(scheme)
	np := seedNetworkPolicy()
	np.Spec.Ingress[0].Ports[0].Protocol = nil
	np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(53))}}}}
	scheme.Default(np)
	if got := *np.Spec.Ingress[0].Ports[0].Protocol; got != corev1.ProtocolTCP {
		t.Errorf("ingress port protocol = %s, want TCP", got)
	}
	if got := *np.Spec.Egress[0].Ports[0].Protocol; got != corev1.ProtocolTCP {
		t.Errorf("egress port protocol = %s, want TCP", got)
	}
	want := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	if !apiequality.Semantic.DeepEqual(np.Spec.PolicyTypes, want) {
		t.Errorf("policyTypes = %v, want %v", np.Spec.PolicyTypes, want)
	}

	ingressOnly := seedNetworkPolicy()
	scheme.Default(ingressOnly)
	if want := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}; !apiequality.Semantic.DeepEqual(ingressOnly.Spec.PolicyTypes, want) {
		t.Errorf("policyTypes without egress rules = %v, want %v", ingressOnly.Spec.PolicyTypes, want)
	}
	explicit := seedNetworkPolicy()
	explicit.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	scheme.Default(explicit)
	if want := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}; !apiequality.Semantic.DeepEqual(explicit.Spec.PolicyTypes, want) {
		t.Errorf("explicit policyTypes changed to %v", explicit.Spec.PolicyTypes)
	}
}

func TestValidateNetworkPolicy(t *testing.T) {
	kind := kindNamed(t, "NetworkPolicy")
	const p = "spec.ingress[0]"
	port := func(np *networkingv1.NetworkPolicy) *networkingv1.NetworkPolicyPort {
		return &np.Spec.Ingress[0].Ports[0]
	}
	ipBlock := func(np *networkingv1.NetworkPolicy, b networkingv1.IPBlock) {
		np.Spec.Ingress[0].From = []networkingv1.NetworkPolicyPeer{{IPBlock: &b}}
	}
	tests := []struct {
		name   string
		mutate func(*networkingv1.NetworkPolicy)
		want   []string
	}{
		{name: "seed", mutate: func(*networkingv1.NetworkPolicy) {}},
		{name: "empty policy denies all", mutate: func(np *networkingv1.NetworkPolicy) { np.Spec = networkingv1.NetworkPolicySpec{} }},
		{
			name: "bad pod selector",
			mutate: func(np *networkingv1.NetworkPolicy) {
				np.Spec.PodSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Has"}}
			},
			want: []string{`spec.podSelector.matchExpressions[0].operator: Invalid value: "Has": not a valid selector operator`},
		},
		{
			name:   "unknown protocol",
			mutate: func(np *networkingv1.NetworkPolicy) { port(np).Protocol = ptr.To(corev1.Protocol("ICMP")) },
			want:   []string{p + `.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`},
		},
		{
			name:   "port out of range",
			mutate: func(np *networkingv1.NetworkPolicy) { port(np).Port = ptr.To(intstr.FromInt32(70000)) },
			want:   []string{p + ".ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"},
		},
		{
			name:   "port range",
			mutate: func(np *networkingv1.NetworkPolicy) { port(np).EndPort = ptr.To[int32](8090) },
		},
		{
			name:   "endPort below port",
			mutate: func(np *networkingv1.NetworkPolicy) { port(np).EndPort = ptr.To[int32](80) },
			want:   []string{p + ".ports[0].endPort: Invalid value: 8080: must be greater than or equal to `port`"},
		},
		{
			name: "endPort with named port",
			mutate: func(np *networkingv1.NetworkPolicy) {
				port(np).Port = ptr.To(intstr.FromString("http"))
				port(np).EndPort = ptr.To[int32](9000)
			},
			want: []string{p + ".ports[0].endPort: Invalid value: 9000: may not be specified when `port` is non-numeric"},
		},
		{
			name: "endPort without port",
			mutate: func(np *networkingv1.NetworkPolicy) {
				port(np).Port = nil
				port(np).EndPort = ptr.To[int32](9000)
			},
			want: []string{p + ".ports[0].endPort: Invalid value: 9000: may not be specified when `port` is not specified"},
		},
		{
			name:   "bad port name",
			mutate: func(np *networkingv1.NetworkPolicy) { port(np).Port = ptr.To(intstr.FromString("HTTP_port")) },
			want:   []string{p + `.ports[0].port: Invalid value: "HTTP_port": must contain only alpha-numeric characters`},
		},
		{
			name:   "peer without selector",
			mutate: func(np *networkingv1.NetworkPolicy) { np.Spec.Ingress[0].From[0] = networkingv1.NetworkPolicyPeer{} },
			want:   []string{p + ".from[0]: Required value: must specify a peer"},
		},
		{
			name: "pod and namespace selector together",
			mutate: func(np *networkingv1.NetworkPolicy) {
				np.Spec.Ingress[0].From[0].NamespaceSelector = &metav1.LabelSelector{}
			},
		},
		{
			name: "ipBlock with a selector",
			mutate: func(np *networkingv1.NetworkPolicy) {
				np.Spec.Ingress[0].From[0].IPBlock = &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}
			},
			want: []string{p + ".from[0]: Forbidden: may not specify both ipBlock and another peer"},
		},
		{
			name: "ipBlock with except",
			mutate: func(np *networkingv1.NetworkPolicy) {
				ipBlock(np, networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}})
			},
		},
		{
			name:   "ipBlock without cidr",
			mutate: func(np *networkingv1.NetworkPolicy) { ipBlock(np, networkingv1.IPBlock{}) },
			want:   []string{p + ".from[0].ipBlock.cidr: Required value"},
		},
		{
			name:   "ipBlock bad cidr",
			mutate: func(np *networkingv1.NetworkPolicy) { ipBlock(np, networkingv1.IPBlock{CIDR: "10.0.0.0/33"}) },
			want:   []string{p + `.from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value`},
		},
		{
			name: "except not inside cidr",
			mutate: func(np *networkingv1.NetworkPolicy) {
				ipBlock(np, networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.1.0.0/24", "10.0.0.0/16"}})
			},
			want: []string{
				p + `.from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of ` + "`cidr`",
				p + `.from[0].ipBlock.except[1]: Invalid value: "10.0.0.0/16": must be a strict subset of ` + "`cidr`",
			},
		},
		{
			name: "egress peer",
			mutate: func(np *networkingv1.NetworkPolicy) {
				np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{}}}}
			},
			want: []string{"spec.egress[0].to[0]: Required value: must specify a peer"},
		},
		{
			name:   "unknown policy type",
			mutate: func(np *networkingv1.NetworkPolicy) { np.Spec.PolicyTypes = []networkingv1.PolicyType{"Both"} },
			want:   []string{`spec.policyTypes[0]: Unsupported value: "Both": supported values: "Egress", "Ingress"`},
		},
		{
			name: "three policy types",
			mutate: func(np *networkingv1.NetworkPolicy) {
				np.Spec.PolicyTypes = []networkingv1.PolicyType{"Ingress", "Egress", "Ingress"}
			},
			want: []string{`spec.policyTypes: Invalid value: ["Ingress","Egress","Ingress"]: may not specify more than two policyTypes`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			np := seedNetworkPolicy()
			tt.mutate(np)
			assertErrorPrefixes(t, kind.Validate(context.Background(), np).ToAggregate(), tt.want)
			assertErrorPrefixes(t, kind.ValidateUpdate(context.Background(), np, seedNetworkPolicy()).ToAggregate(), tt.want)
		})
	}
}

func TestNetworkPolicyTable(t *testing.T) {
	kind := kindNamed(t, "NetworkPolicy")
	assertColumns(t, kind, "POD-SELECTOR AGE")
	if got := kind.ShortNames; len(got) != 1 || got[0] != "netpol" {
		t.Errorf("short names = %v, want [netpol]", got)
	}
	np := seedNetworkPolicy()
	np.CreationTimestamp = metav1.NewTime(time.Now().Add(-5 * time.Minute))
	assertRow(t, kind, np, []interface{}{"app=ml-model", "5m"})
	np.Spec.PodSelector = metav1.LabelSelector{}
	assertRow(t, kind, np, []interface{}{"<none>", "5m"})
}
