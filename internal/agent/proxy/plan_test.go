package proxy

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

const testNode = "node-a"

func testNet() netInfo {
	return netInfo{
		MasqCIDR:    netip.MustParsePrefix("10.42.0.0/16"),
		PodCIDR:     netip.MustParsePrefix("10.42.1.0/24"),
		NodePortIPs: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.168.1.10")},
	}
}

type epSpec struct {
	ip                          string
	node                        string
	ready, serving, terminating bool
}

func svc(name string, mut func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.43.0.20",
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}},
		},
	}
	if mut != nil {
		mut(s)
	}
	return s
}

func slice(name string, eps ...epSpec) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: name + "-abc", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](8080)}},
	}
	for _, e := range eps {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{e.ip},
			NodeName:   ptr.To(e.node),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(e.ready), Serving: ptr.To(e.serving), Terminating: ptr.To(e.terminating)},
		})
	}
	return sl
}

var (
	readyLocal  = func(ip string) epSpec { return epSpec{ip: ip, node: testNode, ready: true, serving: true} }
	readyRemote = func(ip string) epSpec { return epSpec{ip: ip, node: "node-b", ready: true, serving: true} }
)

func elemValue(p servicePlan, m string, key ...string) (string, bool) {
	for _, e := range p.Elements {
		if e.Map == m && slices.Equal(e.Key, key) {
			return e.Value, true
		}
	}
	return "", false
}

func chainWithPrefix(p servicePlan, prefix string) (chainPlan, bool) {
	for _, c := range p.Chains {
		if strings.HasPrefix(c.Name, prefix) {
			return c, true
		}
	}
	return chainPlan{}, false
}

func TestPlanService(t *testing.T) {
	nodePort := func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30080
	}
	tests := []struct {
		name  string
		svc   *corev1.Service
		slice *discoveryv1.EndpointSlice
		check func(t *testing.T, p servicePlan)
	}{{
		name:  "ClusterIP spreads over ready endpoints only",
		svc:   svc("web", nil),
		slice: slice("web", readyLocal("10.42.1.5"), readyRemote("10.42.2.5"), epSpec{ip: "10.42.2.6", node: "node-b"}),
		check: func(t *testing.T, p servicePlan) {
			v, ok := elemValue(p, mapServiceIPs, "10.43.0.20", "tcp", "80")
			if !ok || !strings.HasPrefix(v, "goto svc-") {
				t.Fatalf("service-ips element = %q, %v", v, ok)
			}
			if _, ok := elemValue(p, setClusterIPs, "10.43.0.20", "tcp", "80"); !ok {
				t.Error("cluster IP not in the masquerade set")
			}
			s, ok := chainWithPrefix(p, "svc-")
			want := "meta l4proto tcp dnat to numgen random mod 2 map { 0 : 10.42.1.5 . 8080 , 1 : 10.42.2.5 . 8080 }"
			if !ok || len(s.Rules) != 1 || s.Rules[0] != want {
				t.Errorf("svc chain = %+v, want one rule %q", s, want)
			}
		},
	}, {
		name:  "no endpoints rejects",
		svc:   svc("web", nodePort),
		slice: slice("web"),
		check: func(t *testing.T, p servicePlan) {
			if v, _ := elemValue(p, mapNoEndpointIPs, "10.43.0.20", "tcp", "80"); v != "goto reject-chain" {
				t.Errorf("cluster IP verdict %q", v)
			}
			if v, _ := elemValue(p, mapNoEndpointPorts, "tcp", "30080"); v != "goto reject-chain" {
				t.Errorf("node port verdict %q", v)
			}
			if len(p.Chains) != 0 {
				t.Errorf("chains %v", p.Chains)
			}
		},
	}, {
		name:  "terminating serving endpoints are the fallback",
		svc:   svc("web", nil),
		slice: slice("web", epSpec{ip: "10.42.1.7", node: testNode, serving: true, terminating: true}, epSpec{ip: "10.42.1.8", node: testNode, terminating: true}),
		check: func(t *testing.T, p servicePlan) {
			s, _ := chainWithPrefix(p, "svc-")
			if len(s.Rules) != 1 || s.Rules[0] != "meta l4proto tcp dnat to 10.42.1.7:8080" {
				t.Errorf("svc chain %+v", s)
			}
		},
	}, {
		name:  "terminating endpoints are not used while one is ready",
		svc:   svc("web", nil),
		slice: slice("web", epSpec{ip: "10.42.1.7", node: testNode, serving: true, terminating: true}, readyRemote("10.42.2.9")),
		check: func(t *testing.T, p servicePlan) {
			s, _ := chainWithPrefix(p, "svc-")
			if len(s.Rules) != 1 || !strings.Contains(s.Rules[0], "10.42.2.9") {
				t.Errorf("svc chain %+v", s)
			}
		},
	}, {
		name: "internalTrafficPolicy Local without local endpoints drops",
		svc: svc("web", func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
		}),
		slice: slice("web", readyRemote("10.42.2.5")),
		check: func(t *testing.T, p servicePlan) {
			if v, _ := elemValue(p, mapNoEndpointIPs, "10.43.0.20", "tcp", "80"); v != "drop" {
				t.Errorf("verdict %q", v)
			}
		},
	}, {
		name: "externalTrafficPolicy Local keeps outside traffic local, with a health check",
		svc: svc("web", func(s *corev1.Service) {
			nodePort(s)
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Spec.HealthCheckNodePort = 32000
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.1.10"}}
			s.Spec.ExternalIPs = []string{"203.0.113.7"}
		}),
		slice: slice("web", readyLocal("10.42.1.5"), readyRemote("10.42.2.5")),
		check: func(t *testing.T, p servicePlan) {
			if p.Health == nil || p.Health.Port != 32000 || p.Health.Local != 1 {
				t.Errorf("health %+v", p.Health)
			}
			for _, k := range [][]string{{"192.168.1.10", "tcp", "80"}, {"203.0.113.7", "tcp", "80"}} {
				if v, _ := elemValue(p, mapServiceIPs, k...); !strings.HasPrefix(v, "goto ext-") {
					t.Errorf("%v verdict %q", k, v)
				}
			}
			if v, _ := elemValue(p, mapNodePorts, "tcp", "30080"); !strings.HasPrefix(v, "goto ext-") {
				t.Errorf("node port verdict %q", v)
			}
			ext, _ := chainWithPrefix(p, "ext-")
			if last := ext.Rules[len(ext.Rules)-1]; !strings.HasPrefix(last, "goto local-") {
				t.Errorf("ext rules %v", ext.Rules)
			}
			loc, _ := chainWithPrefix(p, "local-")
			if len(loc.Rules) != 1 || !strings.Contains(loc.Rules[0], "10.42.1.5") {
				t.Errorf("local chain %+v", loc)
			}
		},
	}, {
		name: "externalTrafficPolicy Local without local endpoints answers 503",
		svc: svc("web", func(s *corev1.Service) {
			nodePort(s)
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Spec.HealthCheckNodePort = 32000
		}),
		slice: slice("web", readyRemote("10.42.2.5")),
		check: func(t *testing.T, p servicePlan) {
			if p.Health == nil || p.Health.Local != 0 {
				t.Errorf("health %+v", p.Health)
			}
			if v, _ := elemValue(p, mapNoEndpointPorts, "tcp", "30080"); v != "drop" {
				t.Errorf("node port verdict %q", v)
			}
		},
	}, {
		name: "session affinity remembers the client per endpoint",
		svc: svc("web", func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
		}),
		slice: slice("web", readyLocal("10.42.1.5"), readyRemote("10.42.2.5")),
		check: func(t *testing.T, p servicePlan) {
			if len(p.Sets) != 2 || p.Sets[0].Timeout != 60 {
				t.Fatalf("sets %+v", p.Sets)
			}
			s, _ := chainWithPrefix(p, "svc-")
			if len(s.Rules) != 3 || !strings.HasPrefix(s.Rules[0], "ip saddr @aff-") {
				t.Errorf("svc rules %v", s.Rules)
			}
			ep, _ := chainWithPrefix(p, "ep-")
			if !strings.HasPrefix(ep.Rules[1], "update @aff-") {
				t.Errorf("endpoint rules %v", ep.Rules)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ports := servicePortsFor(tc.svc, []*discoveryv1.EndpointSlice{tc.slice}, testNode)
			if len(ports) != 1 {
				t.Fatalf("ports = %d", len(ports))
			}
			tc.check(t, planService(ports, testNet()))
		})
	}
}

func TestServicePortsForSkips(t *testing.T) {
	for name, s := range map[string]*corev1.Service{
		"headless":     svc("h", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }),
		"externalName": svc("e", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName; s.Spec.ClusterIP = "" }),
		"ipv6":         svc("v6", func(s *corev1.Service) { s.Spec.ClusterIP = "fd00::1" }),
	} {
		if got := servicePortsFor(s, nil, testNode); len(got) != 0 {
			t.Errorf("%s: %d ports, want none", name, len(got))
		}
	}
}

func TestTableNameIsPerNodeAndDataDir(t *testing.T) {
	a, b, c := TableName("n1", "/var/a"), TableName("n1", "/var/b"), TableName("n2", "/var/a")
	if a == b || a == c || !strings.HasPrefix(a, "skiff-") || a != TableName("n1", "/var/a") {
		t.Errorf("table names %q %q %q", a, b, c)
	}
}

// TestUpdateTouchesOnlyTheChangedService applies two Services, changes one,
// and checks the transaction names only the changed Service's objects.
func TestUpdateTouchesOnlyTheChangedService(t *testing.T) {
	ctx := context.Background()
	fake := knftables.NewFake(knftables.IPv4Family, "skiff-test")
	n := testNet()
	a := newApplier(fake, planBase(n))
	plan := func(s *corev1.Service, sl *discoveryv1.EndpointSlice) servicePlan {
		return planService(servicePortsFor(s, []*discoveryv1.EndpointSlice{sl}, testNode), n)
	}
	web := svc("web", nil)
	db := svc("db", func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.30" })
	kWeb, kDB := serviceKey{Namespace: "ns", Name: "web"}, serviceKey{Namespace: "ns", Name: "db"}
	plans := map[serviceKey]servicePlan{
		kWeb: plan(web, slice("web", readyLocal("10.42.1.5"))),
		kDB:  plan(db, slice("db", readyLocal("10.42.1.6"))),
	}
	if err := a.syncAll(ctx, plans, true); err != nil {
		t.Fatal(err)
	}
	if len(fake.Table.Maps[mapServiceIPs].Elements) != 2 {
		t.Fatalf("service-ips = %v", fake.Table.Maps[mapServiceIPs].Elements)
	}
	newWeb := plan(web, slice("web", readyLocal("10.42.1.5"), readyLocal("10.42.1.9")))
	if err := a.update(ctx, map[serviceKey]*servicePlan{kWeb: &newWeb}); err != nil {
		t.Fatal(err)
	}
	tx := fake.LastTransaction.String()
	if strings.Contains(tx, "ns/db") || strings.Contains(tx, "10.43.0.30") {
		t.Errorf("update of web touched db:\n%s", tx)
	}
	if !strings.Contains(tx, "10.42.1.9") {
		t.Errorf("update lacks the new endpoint:\n%s", tx)
	}
	// Removing web leaves db alone and deletes all of web's chains.
	if err := a.update(ctx, map[serviceKey]*servicePlan{kWeb: nil}); err != nil {
		t.Fatal(err)
	}
	for name := range fake.Table.Chains {
		if strings.Contains(name, "ns/web") {
			t.Errorf("chain %s left behind", name)
		}
	}
	if _, ok := chainWithPrefix(plans[kDB], "svc-"); !ok {
		t.Fatal("db has no svc chain")
	}
	if len(fake.Table.Maps[mapServiceIPs].Elements) != 1 {
		t.Errorf("service-ips = %v", fake.Table.Maps[mapServiceIPs].Elements)
	}
}
