package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// lan is a small LAN the test builds: a bridge on the host holding the
// first address of a /24, and one network namespace per machine, joined
// to the bridge by a veth pair, with the default route through the host.
type lan struct {
	t      *testing.T
	prefix string // "192.168.N."
	bridge string
	netns  []string
}

// newLAN makes the bridge; it and every machine's namespace are removed
// when the test ends.
func newLAN(t *testing.T) *lan {
	t.Helper()
	sfx := fmt.Sprintf("%04x", rand.IntN(1<<16))
	l := &lan{t: t, prefix: fmt.Sprintf("192.168.%d.", 100+rand.IntN(100)), bridge: "sklan" + sfx}
	t.Cleanup(l.remove)
	l.ip("link", "add", l.bridge, "type", "bridge")
	l.ip("addr", "add", l.prefix+"1/24", "dev", l.bridge)
	l.ip("link", "set", l.bridge, "up")
	return l
}

// ip runs `ip args...` and fails the test on error.
func (l *lan) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// machine adds a namespace at address prefix+host and returns its name.
func (l *lan) machine(host int) string {
	l.t.Helper()
	ns := fmt.Sprintf("%s-%d", l.bridge, host)
	veth := fmt.Sprintf("%sv%d", l.bridge, host)
	l.netns = append(l.netns, ns)
	l.ip("netns", "add", ns)
	l.ip("link", "add", veth, "type", "veth", "peer", "name", "lan0", "netns", ns)
	l.ip("link", "set", veth, "master", l.bridge, "up")
	l.ip("-n", ns, "link", "set", "lo", "up")
	l.ip("-n", ns, "addr", "add", fmt.Sprintf("%s%d/24", l.prefix, host), "dev", "lan0")
	l.ip("-n", ns, "link", "set", "lan0", "up")
	l.ip("-n", ns, "route", "add", "default", "via", l.prefix+"1")
	return ns
}

func (l *lan) remove() {
	for _, ns := range l.netns {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	_ = exec.Command("ip", "link", "del", l.bridge).Run()
}

// startAgentIn runs `skiff agent` in network namespace ns, joined to s at
// the server's LAN address; it is stopped (SIGTERM, so it removes its pods
// and routes) when the test ends.
func startAgentIn(t *testing.T, s *server, ns, serverIP, name, nodeIP string, extraArgs ...string) *agent {
	t.Helper()
	args := append([]string{"--net=/run/netns/" + ns, "--", skiffBin, "agent",
		"--server", fmt.Sprintf("https://%s:%d", serverIP, s.port), "--token", s.joinToken(),
		"--data-dir", t.TempDir(), "--node-name", name, "--node-ip", nodeIP}, extraArgs...)
	return runAgent(t, name, exec.Command("nsenter", args...), (*agent).stopGracefully)
}

// TestMultiNode: a server (with a node of its own) and two agents, each in
// a network namespace of its own on a LAN the test builds. Pods on the two
// agents reach each other by pod IP, ClusterIP and DNS name, and see each
// other's own address; a Service whose only endpoint is on one agent
// answers on both; with externalTrafficPolicy Local its NodePort answers
// only on the node of the endpoint and keeps the client's address.
func TestMultiNode(t *testing.T) {
	requireRoot(t)
	model, fetch := modelServerBin(t), staticBin(t, "FETCH_BIN", "./cmd/fetch")
	l := newLAN(t)
	serverIP := l.prefix + "1"
	// A cluster CIDR of its own: the host routes the agents' pod CIDRs,
	// which must not meet the pod networks of other servers on this host.
	const clusterCIDR = "10.123.0.0/16"
	// Registered before the server starts, so it runs after the server
	// stopped: the routes it made on the host are gone.
	t.Cleanup(func() {
		out, err := exec.Command("ip", "-4", "route", "show", "proto", "211").CombinedOutput()
		if err != nil {
			t.Errorf("ip route show proto 211: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "10.123.") {
			t.Errorf("routes to the agents' pod CIDRs stay on the host after the server stopped:\n%s", out)
		}
	})
	s := startServer(t, "--runtime=process", "--node-name", "mn-server", "--node-ip", serverIP,
		"--kubelet-port", fmt.Sprint(freePort(t)), "--bind-address", "0.0.0.0", "--advertise-address", serverIP,
		"--cluster-cidr", clusterCIDR)
	c := s.client()
	ctx := context.Background()
	nodes := map[string]string{"mn-a": l.prefix + "11", "mn-b": l.prefix + "12"}
	nsOf := map[string]string{}
	for _, host := range []int{11, 12} {
		name := map[int]string{11: "mn-a", 12: "mn-b"}[host]
		nsOf[name] = l.machine(host)
		startAgentIn(t, s, nsOf[name], serverIP, name, nodes[name], "--runtime=process")
	}
	podCIDR := map[string]string{}
	for name := range nodes {
		eventually(t, 90*time.Second, "node "+name+" Ready with a pod CIDR", func() bool {
			n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil || n.Spec.PodCIDR == "" {
				return false
			}
			podCIDR[name] = n.Spec.PodCIDR
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady {
					return cond.Status == corev1.ConditionTrue
				}
			}
			return false
		})
	}
	// host-gw: each machine routes the other's pod CIDR through its LAN
	// address, marked as skiff's.
	for name, ns := range nsOf {
		other := map[string]string{"mn-a": "mn-b", "mn-b": "mn-a"}[name]
		want := podCIDR[other] + " via " + nodes[other]
		eventually(t, 30*time.Second, name+" routes "+want, func() bool {
			out, _ := exec.Command("ip", "-n", ns, "-4", "route", "show", "proto", "211").CombinedOutput()
			return strings.Contains(string(out), want)
		})
	}

	for _, name := range []string{"mn-a", "mn-b"} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web-" + name, Labels: map[string]string{"app": "web-" + name}},
			Spec: corev1.PodSpec{NodeName: name, Containers: []corev1.Container{{
				Name: "model", Image: "localhost/skiff/model-server:v2", Command: []string{model},
				Ports: []corev1.ContainerPort{{ContainerPort: 8000}},
			}}},
		}
		if _, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	podIP := map[string]string{}
	for _, name := range []string{"mn-a", "mn-b"} {
		eventually(t, 60*time.Second, "pod web-"+name+" Running", func() bool {
			p, err := c.CoreV1().Pods("default").Get(ctx, "web-"+name, metav1.GetOptions{})
			if err != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
				return false
			}
			podIP[name] = p.Status.PodIP
			return true
		})
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web-b"},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web-mn-b"},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			Ports:                 []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8000)}},
		},
	}
	svc, err := c.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// fetchFrom asks, from the pod on node from, who serves url.
	fetchFrom := func(from, url string) (string, error) {
		r := s.kubectl("", nil, "exec", "web-"+from, "--", fetch, "get", "-n", "2", "-timeout", "2s", url)
		var got struct {
			ServedBy map[string]int `json:"servedBy"`
		}
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &got) != nil || len(got.ServedBy) != 1 {
			return "", fmt.Errorf("fetch %s from web-%s: exit %d %s %s", url, from, r.Code, r.Stdout, r.Stderr)
		}
		for by := range got.ServedBy {
			return by, nil
		}
		return "", nil
	}
	expectServed := func(what, from, url, want string) {
		t.Helper()
		var last error
		err := poll(200*time.Millisecond, 30*time.Second, func() error {
			by, err := fetchFrom(from, url)
			if err == nil && by != want {
				err = fmt.Errorf("served by %q, want %q", by, want)
			}
			last = err
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", what, last)
		}
	}
	// logSees waits until pod web-<name> logged a request from addr.
	logSees := func(what, name, addr string) {
		t.Helper()
		eventually(t, 20*time.Second, what, func() bool {
			r := s.kubectl("", nil, "logs", "web-"+name)
			return r.Code == 0 && strings.Contains(r.Stdout, " "+addr+":")
		})
	}

	expectServed("pod IP, a to b", "mn-a", fmt.Sprintf("http://%s:8000/predict", podIP["mn-b"]), "web-mn-b")
	logSees("web-mn-b sees web-mn-a's own pod IP", "mn-b", podIP["mn-a"])
	expectServed("pod IP, b to a", "mn-b", fmt.Sprintf("http://%s:8000/predict", podIP["mn-a"]), "web-mn-a")
	logSees("web-mn-a sees web-mn-b's own pod IP", "mn-a", podIP["mn-b"])

	// The Service's only endpoint is on mn-b: it answers from both nodes.
	clusterIP := fmt.Sprintf("http://%s/predict", svc.Spec.ClusterIP)
	expectServed("ClusterIP from the other node", "mn-a", clusterIP, "web-mn-b")
	expectServed("ClusterIP from the endpoint's node", "mn-b", clusterIP, "web-mn-b")
	expectServed("DNS name from the other node", "mn-a", "http://web-b.default.svc.cluster.local/predict", "web-mn-b")

	// externalTrafficPolicy Local: the NodePort answers on mn-b only, and
	// the endpoint sees the client's own address (the host's LAN address).
	nodePort := fmt.Sprint(svc.Spec.Ports[0].NodePort)
	hostClient := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(url string) error {
		resp, err := hostClient.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if by := resp.Header.Get("X-Served-By"); resp.StatusCode != http.StatusOK || by != "web-mn-b" {
			return fmt.Errorf("%s: %s, served by %q", url, resp.Status, by)
		}
		return nil
	}
	onB := "http://" + net.JoinHostPort(nodes["mn-b"], nodePort) + "/predict"
	onA := "http://" + net.JoinHostPort(nodes["mn-a"], nodePort) + "/predict"
	if err := poll(200*time.Millisecond, 30*time.Second, func() error { return get(onB) }); err != nil {
		t.Fatalf("NodePort (Local) on the endpoint's node: %v", err)
	}
	logSees("web-mn-b sees the client's address through the Local NodePort", "mn-b", serverIP)
	if err := get(onA); err == nil {
		t.Errorf("NodePort (Local) answered on %s, a node without an endpoint", onA)
	}
	// With the policy Cluster, the other node's NodePort answers too.
	patch := []byte(`{"spec":{"externalTrafficPolicy":"Cluster"}}`)
	if _, err := c.CoreV1().Services("default").Patch(ctx, "web-b", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := poll(200*time.Millisecond, 30*time.Second, func() error { return get(onA) }); err != nil {
		t.Fatalf("NodePort (Cluster) on the node without an endpoint: %v", err)
	}
}
