//go:build integration

package netpol

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"skiff.dev/skiff/internal/agent/nfttest"
	"skiff.dev/skiff/internal/testserver"
)

// BenchmarkPolicyChangeToKernel runs the enforcement of one node (informers
// on a real API server from internal/testserver, nft in a network
// namespace of its own) with 1,000 pods on the node in 10 apps and one
// policy per app admitting its clients on a port, and measures the time
// from a NetworkPolicy update (a new port) to the rules being in the kernel.
func BenchmarkPolicyChangeToKernel(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		b.Skip("needs nft")
	}
	ns := fmt.Sprintf("sknp-bench%d", time.Now().UnixNano()%1e6)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		b.Fatalf("ip netns add: %v\n%s", err, out)
	}
	b.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	nfttest.NftIn(b, ns)
	ctx := context.Background()
	client := testserver.Start(b, nil).Client
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	const pods, apps = 1000, 10
	for i := 0; i < pods; i++ {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%04d", i), Labels: map[string]string{"app": fmt.Sprint("app-", i%apps), "role": "client"}},
			Spec:       corev1.PodSpec{NodeName: "node-0", Containers: []corev1.Container{{Name: "c", Image: "model"}}},
		}
		created, err := client.CoreV1().Pods("ns").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		created.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.244.%d.%d", i/250, i%250+2)}
		if _, err := client.CoreV1().Pods("ns").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	var policies []*networkingv1.NetworkPolicy
	for a := 0; a < apps; a++ {
		np := &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("app-", a)},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprint("app-", a)}},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(8000))}},
				}},
			},
		}
		created, err := client.NetworkingV1().NetworkPolicies("ns").Create(ctx, np, metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		policies = append(policies, created)
	}
	table := TableName("bench", ns)
	nft, err := knftables.New(knftables.IPv4Family, table)
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(Config{
		Client: client, NodeName: "node-0", TableName: table, NFT: nft,
		ReadSysctl: func(string) (string, error) { return "1", nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	written := make(chan Plan, 16)
	c.afterSync = func(p Plan) { written <- p }
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- c.Run(rctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	select {
	case <-c.Synced():
	case err := <-done:
		b.Fatal(err)
	}
	firstSync := time.Since(start)
	if n := strings.Count(nfttest.Sh(b, "nsenter", "--net=/run/netns/"+ns, "nft", "list", "map", "ip", table, ingressPodsMap), "jump"); n != pods {
		b.Fatalf("%d pods isolated in the kernel, want %d", n, pods)
	}

	meter := nfttest.StartMeter()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		np := policies[i%apps].DeepCopy()
		port := int32(9000 + i)
		np.Spec.Ingress[0].Ports[0].Port = ptr.To(intstr.FromInt32(port))
		want := fmt.Sprintf("th dport %d accept", port)
		chain := policyChain(np, dirIngress)
		t0 := time.Now()
		updated, err := client.NetworkingV1().NetworkPolicies("ns").Update(ctx, np, metav1.UpdateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		policies[i%apps] = updated
	wait:
		for {
			select {
			case p := <-written:
				if slices.ContainsFunc(p.Chains[chain], func(r string) bool { return strings.HasSuffix(r, want) }) {
					break wait
				}
			case <-time.After(10 * time.Second):
				b.Fatal("change not written")
			}
		}
		meter.Add(time.Since(t0))
	}
	b.StopTimer()
	meter.Report(b)
	b.ReportMetric(nfttest.MS(firstSync), "start-sync-ms")
}

// BenchmarkCompute is the plan alone for the same cluster: 1,000 pods,
// 10 policies.
func BenchmarkCompute(b *testing.B) {
	var pods []*corev1.Pod
	for i := 0; i < 1000; i++ {
		pods = append(pods, pod("ns", fmt.Sprintf("pod-%04d", i), fmt.Sprintf("10.244.%d.%d", i/250, i%250+2), node,
			map[string]string{"app": fmt.Sprint("app-", i%10), "role": "client"}))
	}
	var nps []*networkingv1.NetworkPolicy
	for a := 0; a < 10; a++ {
		nps = append(nps, policy("ns", fmt.Sprint("app-", a), map[string]string{"app": fmt.Sprint("app-", a)}, func(s *networkingv1.NetworkPolicySpec) {
			s.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: selector(client)}}, Ports: []networkingv1.NetworkPolicyPort{tcp(8000)}}}
		}))
	}
	nss := []*corev1.Namespace{namespace("ns", nil)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Compute(nps, pods, nss, node)
	}
}
