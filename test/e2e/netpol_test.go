package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The NetworkPolicy suite (issue 10, Done-when 3): the model behind a
// Deployment and a Service; a policy lets only role=client pods reach it;
// an egress default deny blocks DNS until port 53 is allowed. It runs once
// per runtime.

func TestNetworkPolicyProcess(t *testing.T) { runNetworkPolicySuite(t, "process") }

func TestNetworkPolicyCRI(t *testing.T) { runNetworkPolicySuite(t, "cri") }

const (
	netpolNS = "netpol"

	// onlyClients admits only role=client pods to the model.
	onlyClients = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: model-clients
  namespace: netpol
spec:
  podSelector:
    matchLabels:
      app: model
  ingress:
  - from:
    - podSelector:
        matchLabels:
          role: client
    ports:
    - port: http
`
	// denyEgress lets the namespace's pods send nothing.
	denyEgress = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: egress
  namespace: netpol
spec:
  podSelector: {}
  policyTypes: [Egress]
`
	// dnsEgress lets them send DNS queries, and only those.
	dnsEgress = denyEgress + `  egress:
  - ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
`
)

func runNetworkPolicySuite(t *testing.T, rt string) {
	// Pod and Service ranges of its own: a test server beside it on this
	// host (other suites run at once) with the same pod CIDR would share
	// its routes and ClusterIPs.
	n := startNodeSuite(t, rt, "--cluster-cidr", "10.152.0.0/16", "--service-cidr", "10.153.0.0/16", "--cluster-dns", "10.153.0.10")
	s, c := n.s, n.s.client()
	ctx := context.Background()

	s.ok("create", "namespace", netpolNS)
	model := n.container("model")
	model.Ports[0].Name = "http"
	labels := map[string]string{"app": "model"}
	if _, err := c.AppsV1().Deployments(netpolNS).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "model"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{model}}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := c.CoreV1().Services(netpolNS).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "model"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, lbls := range map[string]map[string]string{"client": {"role": "client"}, "other": nil} {
		n.createPod(netpolNS, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
			Spec: corev1.PodSpec{Containers: []corev1.Container{n.shellContainer("sh", "sleep 3600")}}})
	}
	for _, name := range []string{"client", "other"} {
		n.waitPod(netpolNS, name, 60*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	}
	eventually(t, 60*time.Second, "the model Running and Ready", func() bool { return readyRunning(t, c, netpolNS, "app=model", 1) })
	modelPod := livePods(t, c, netpolNS, "app=model")[0]

	from := func(pod string, args ...string) result {
		return s.kubectl("", nil, append([]string{"exec", pod, "-n", netpolNS, "--", n.fetch}, args...)...)
	}
	byIP := fmt.Sprintf("http://%s/predict", svc.Spec.ClusterIP)
	direct := fmt.Sprintf("http://%s:8000/predict", modelPod.Status.PodIP)
	answers := func(pod, url string) bool { return from(pod, "get", "-timeout", "1s", url).Code == 0 }
	for _, pod := range []string{"client", "other"} {
		for _, url := range []string{byIP, "http://model/predict"} {
			var last result
			eventually(t, 60*time.Second, pod+" reaching "+url+" (see the last try below)", func() bool {
				last = from(pod, "get", "-timeout", "2s", url)
				if last.Code != 0 {
					t.Logf("%s: GET %s: exit %d %s", pod, url, last.Code, last.Stderr)
				}
				return last.Code == 0
			})
		}
	}

	// Only role=client reaches the model, through the Service and directly.
	if r := s.kubectl(onlyClients, nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("apply the policy: %s", r.Stderr)
	}
	out := s.ok("get", "netpol", "-n", netpolNS)
	if !regexp.MustCompile(`^NAME\s+POD-SELECTOR\s+AGE\nmodel-clients\s+app=model\s+\d+s\n$`).MatchString(out) {
		t.Errorf("kubectl get netpol:\n%s", out)
	}
	eventually(t, 30*time.Second, "the unlabelled pod cut off from the model", func() bool { return !answers("other", byIP) })
	for _, url := range []string{byIP, direct} {
		if r := from("other", "get", "-timeout", "2s", url); r.Code == 0 || !strings.Contains(r.Stderr, "Timeout") {
			t.Errorf("unlabelled pod GET %s under the policy: exit %d, want a timeout; %s", url, r.Code, r.Stderr)
		}
		if !answers("client", url) {
			t.Errorf("role=client pod GET %s under the policy: no answer", url)
		}
	}

	// The policy's removal restores access.
	s.ok("delete", "netpol", "model-clients", "-n", netpolNS)
	eventually(t, 30*time.Second, "the unlabelled pod answered again", func() bool { return answers("other", byIP) })

	// Egress: a default deny cuts DNS (and everything else) off...
	if r := s.kubectl(denyEgress, nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("apply the egress deny: %s", r.Stderr)
	}
	eventually(t, 30*time.Second, "egress denied", func() bool { return !answers("client", byIP) })
	name := "model." + netpolNS + ".svc.cluster.local"
	if r := from("client", "lookup", name); r.Code == 0 {
		t.Errorf("lookup %s under an egress default deny succeeded: %s", name, r.Stdout)
	}
	// ... until port 53 is allowed: names resolve, the model stays cut off.
	if r := s.kubectl(dnsEgress, nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("apply the DNS egress rule: %s", r.Stderr)
	}
	var last result
	eventually(t, 30*time.Second, name+" resolving with port 53 allowed (see the last lookup below)", func() bool {
		last = from("client", "lookup", name)
		if last.Code == 0 && strings.TrimSpace(last.Stdout) == svc.Spec.ClusterIP {
			return true
		}
		t.Logf("lookup %s: exit %d %q %s", name, last.Code, last.Stdout, last.Stderr)
		return false
	})
	if answers("client", byIP) {
		t.Errorf("GET %s allowed by an egress policy that allows only port 53", byIP)
	}
}
