package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The Services suite: the seed's deployment and service (image switched to
// the in-repo model server) on a real node, reached from a fourth pod by
// name, ClusterIP, NodePort and LoadBalancer address, and the cluster DNS's
// answers, as issue 9 asks. It runs once per runtime.

func TestServicesProcess(t *testing.T) { runServicesSuite(t, "process") }

func TestServicesCRI(t *testing.T) { runServicesSuite(t, "cri") }

// tally is what `fetch get -n N` prints.
type tally struct {
	OK       int            `json:"ok"`
	Errors   int            `json:"errors"`
	ServedBy map[string]int `json:"servedBy"`
	LastErr  string         `json:"lastError"`
}

func runServicesSuite(t *testing.T, rt string) {
	// The API server listens on every address so that pods reach it through
	// the kubernetes Service (its endpoint is the host's address).
	n := startNodeSuite(t, rt, "--bind-address", "0.0.0.0")
	s, c := n.s, n.s.client()
	ctx := context.Background()

	applySeed(t, n, "deployment.yaml", "service.yaml", "hpa.yaml")
	eventually(t, 120*time.Second, "3 ml-model pods Running and Ready", func() bool { return readyRunning(t, c, seedNS, "app=ml-model", 3) })
	pods := livePods(t, c, seedNS, "app=ml-model")
	podNames := map[string]bool{}
	for _, p := range pods {
		podNames[p.Name] = true
	}

	// The fourth pod: a client with the cluster CA mounted.
	caPEM := s.restConfig().CAData
	if len(caPEM) == 0 {
		b, err := os.ReadFile(s.restConfig().CAFile)
		if err != nil {
			t.Fatal(err)
		}
		caPEM = b
	}
	if _, err := c.CoreV1().ConfigMaps(seedNS).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-ca"},
		Data: map[string]string{"ca.crt": string(caPEM)}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client := n.shellContainer("client", "sleep 3600")
	client.VolumeMounts = []corev1.VolumeMount{{Name: "ca", MountPath: "/etc/cluster-ca"}}
	n.createPod(seedNS, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{client},
		Volumes: []corev1.Volume{{Name: "ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cluster-ca"}}}}},
	}})
	n.waitPod(seedNS, "client", 60*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	inPod := func(args ...string) result {
		return s.kubectl("", nil, append([]string{"exec", "client", "-n", seedNS, "--", n.fetch}, args...)...)
	}
	spread := func(what, url string) {
		t.Helper()
		r := inPod("get", "-n", "300", url)
		var got tally
		if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil || r.Code != 0 {
			t.Fatalf("%s: 300 requests to %s from a pod: exit %d, %q %s", what, url, r.Code, r.Stdout, r.Stderr)
		}
		checkSpread(t, what, got, podNames)
	}

	svc, err := c.CoreV1().Services(seedNS).Get(ctx, "ml-model-service", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodePort := svc.Spec.Ports[0].NodePort
	spread("by name", "http://ml-model-service.production.svc.cluster.local/predict")
	spread("by short name", "http://ml-model-service/predict")
	spread("by ClusterIP", fmt.Sprintf("http://%s/predict", svc.Spec.ClusterIP))

	node, err := c.CoreV1().Nodes().Get(ctx, n.node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var nodeIP string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			nodeIP = a.Address
		}
	}
	spread("by NodePort", fmt.Sprintf("http://%s/predict", net.JoinHostPort(nodeIP, fmt.Sprint(nodePort))))

	// kubectl get svc shows the LoadBalancer address; it answers too.
	var lbIP string
	eventually(t, 60*time.Second, "EXTERNAL-IP of ml-model-service", func() bool {
		out := s.ok("get", "svc", "ml-model-service", "-n", seedNS)
		m := regexp.MustCompile(`ml-model-service\s+LoadBalancer\s+\S+\s+(\d+\.\d+\.\d+\.\d+)\s+80:(\d+)/TCP`).FindStringSubmatch(out)
		if m == nil {
			return false
		}
		lbIP = m[1]
		return true
	})
	spread("by LoadBalancer address", fmt.Sprintf("http://%s/predict", lbIP))
	// From the host, as a user outside the cluster: the NodePort on the
	// node's address and on 127.0.0.1, and the LoadBalancer address.
	for _, addr := range []string{net.JoinHostPort(nodeIP, fmt.Sprint(nodePort)), net.JoinHostPort("127.0.0.1", fmt.Sprint(nodePort)), net.JoinHostPort(lbIP, "80")} {
		if body := hostGet(t, "http://"+addr+"/health"); body != "ok" {
			t.Fatalf("GET http://%s/health from the host: %q", addr, body)
		}
	}

	// The API server's proxy reaches the Service too.
	if out := s.ok("get", "--raw", "/api/v1/namespaces/production/services/ml-model-service:80/proxy/health"); out != "ok" {
		t.Fatalf("services/proxy: %q", out)
	}

	// https://kubernetes.default.svc answers with the API server's
	// certificate, verified against the cluster CA.
	if r := inPod("get", "-cacert", "/etc/cluster-ca/ca.crt", "https://kubernetes.default.svc/version"); r.Code != 0 || !strings.Contains(r.Stdout, `"gitVersion"`) {
		t.Fatalf("https://kubernetes.default.svc/version from a pod: exit %d %s %s", r.Code, r.Stdout, r.Stderr)
	}

	t.Run("session affinity", func(t *testing.T) {
		sticky := serviceFor("sticky", corev1.ServiceTypeClusterIP, "")
		sticky.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		created, err := c.CoreV1().Services(seedNS).Create(ctx, sticky, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitAnswers(t, inPod, "http://"+created.Spec.ClusterIP+"/health")
		r := inPod("get", "-n", "50", "http://"+created.Spec.ClusterIP+"/predict")
		var got tally
		if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil || got.OK != 50 || len(got.ServedBy) != 1 {
			t.Fatalf("sessionAffinity ClientIP: 50 requests from one client: %s %s", r.Stdout, r.Stderr)
		}
	})

	t.Run("dns", func(t *testing.T) {
		headless := serviceFor("ml-model-headless", corev1.ServiceTypeClusterIP, "")
		headless.Spec.ClusterIP = corev1.ClusterIPNone
		named := serviceFor("ml-model-named", corev1.ServiceTypeClusterIP, "http")
		external := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "outside"}, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeExternalName, ExternalName: "ml-model-service.production.svc.cluster.local"}}
		for _, svc := range []*corev1.Service{headless, named, external} {
			if _, err := c.CoreV1().Services(seedNS).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		want := map[string]bool{}
		for _, p := range livePods(t, c, seedNS, "app=ml-model") {
			want[p.Status.PodIP] = true
		}
		eventually(t, 30*time.Second, "the headless Service's name resolving to the 3 pod IPs", func() bool {
			r := inPod("lookup", "ml-model-headless.production.svc.cluster.local")
			got := strings.Fields(r.Stdout)
			if r.Code != 0 || len(got) != len(want) {
				return false
			}
			for _, ip := range got {
				if !want[ip] {
					return false
				}
			}
			return true
		})
		if r := inPod("lookup", "-type", "CNAME", "outside.production.svc.cluster.local."); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ml-model-service.production.svc.cluster.local." {
			t.Errorf("ExternalName: CNAME lookup: exit %d %q %s", r.Code, r.Stdout, r.Stderr)
		}
		if r := inPod("lookup", "missing.production.svc.cluster.local."); r.Code != 3 {
			t.Errorf("a missing name: exit %d (want 3, NXDOMAIN) %q %s", r.Code, r.Stdout, r.Stderr)
		}
		r := inPod("lookup", "-type", "SRV", "_http._tcp.ml-model-named.production.svc.cluster.local.")
		if r.Code != 0 || !strings.Contains(r.Stdout, "ml-model-named.production.svc.cluster.local. 80 ") {
			t.Errorf("SRV of a named port: exit %d %q %s", r.Code, r.Stdout, r.Stderr)
		}

		// dnsPolicy None: the pod's resolv.conf is exactly its dnsConfig.
		ndots := "2"
		n.createPod(seedNS, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "own-dns"}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{n.shellContainer("c", "sleep 3600")},
			DNSPolicy:  corev1.DNSNone,
			DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.53"}, Searches: []string{"example.test"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &ndots}}},
		}})
		n.waitPod(seedNS, "own-dns", 60*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		got := s.ok("exec", "own-dns", "-n", seedNS, "--", "cat", "/etc/resolv.conf")
		if lines := resolvLines(got); strings.Join(lines, "|") != "search example.test|nameserver 192.0.2.53|options ndots:2" {
			t.Errorf("dnsPolicy None: resolv.conf %q", got)
		}
		// ClusterFirst: the cluster DNS, the namespace's search path, ndots 5.
		got = s.ok("exec", "client", "-n", seedNS, "--", "cat", "/etc/resolv.conf")
		for _, want := range []string{"nameserver 10.43.0.10", "search production.svc.cluster.local svc.cluster.local cluster.local", "options ndots:5"} {
			if !strings.Contains(got, want) {
				t.Errorf("ClusterFirst resolv.conf lacks %q:\n%s", want, got)
			}
		}
	})

	t.Run("readiness", func(t *testing.T) { n.readinessLeavesService(t, inPod) })

	if rt == "process" {
		t.Run("pod files", func(t *testing.T) { n.podFilesAreTheirOwn(t) })
	}

	t.Run("bad input", func(t *testing.T) {
		// A selector matching nothing, a targetPort no container names: no
		// endpoints, and the request is refused rather than hanging; the
		// seed's Service keeps answering.
		nothing := serviceFor("nothing", corev1.ServiceTypeClusterIP, "")
		nothing.Spec.Selector = map[string]string{"app": "none"}
		noPort := serviceFor("no-port", corev1.ServiceTypeClusterIP, "")
		noPort.Spec.Ports[0].TargetPort = intstr.FromString("grpc")
		for _, svc := range []*corev1.Service{nothing, noPort} {
			created, err := c.CoreV1().Services(seedNS).Create(ctx, svc, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// kubectl shows PORTS <unset>: no endpoint has the port (the
			// placeholder slice of a selector matching nothing, or pods
			// without the named port, as kube-controller-manager writes).
			eventually(t, 30*time.Second, svc.Name+" has an EndpointSlice without ports", func() bool {
				out := s.ok("get", "endpointslices", "-n", seedNS, "-l", "kubernetes.io/service-name="+svc.Name)
				return regexp.MustCompile(svc.Name + `-\S+\s+IPv4\s+<unset>\s`).MatchString(out)
			})
			if r := inPod("get", "-timeout", "3s", "http://"+created.Spec.ClusterIP+"/health"); r.Code == 0 {
				t.Errorf("%s: a request to a Service without endpoints answered: %s", svc.Name, r.Stdout)
			}
		}
		clash := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"clash"},"spec":{"selector":{"app":"ml-model"},"ports":[{"name":"a","port":80},{"name":"b","port":80}]}}`
		if r := s.kubectl(clash, nil, "create", "-n", seedNS, "-f", "-"); r.Code == 0 || !strings.Contains(r.Stderr, "spec.ports[1]") {
			t.Errorf("a port clash: exit %d %s", r.Code, r.Stderr)
		}
		badName := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"bad-name"},"spec":{"type":"ExternalName","externalName":"not_a_name!"}}`
		if r := s.kubectl(badName, nil, "create", "-n", seedNS, "-f", "-"); r.Code == 0 || !strings.Contains(r.Stderr, "spec.externalName") {
			t.Errorf("an invalid externalName: exit %d %s", r.Code, r.Stderr)
		}
		spread("the seed's Service after bad input", "http://ml-model-service/predict")
	})

	// The proxy's node process killed and started again: one copy of its
	// rules, and traffic flows.
	t.Run("crash", func(t *testing.T) {
		before := skiffTables(t)
		s.kill()
		s.start()
		eventually(t, 120*time.Second, "3 ml-model pods Ready again", func() bool { return readyRunning(t, c, seedNS, "app=ml-model", 3) })
		waitAnswers(t, inPod, "http://ml-model-service/health")
		if after := skiffTables(t); after != before {
			t.Fatalf("skiff's nftables tables before the crash %q, after the restart %q", before, after)
		}
		spread("after the server's SIGKILL and restart", "http://ml-model-service/predict")
	})
}

// checkSpread fails unless every request was answered and each pod served
// between 20 % and 47 % of them.
func checkSpread(t *testing.T, what string, got tally, pods map[string]bool) {
	t.Helper()
	total := got.OK + got.Errors
	if got.Errors > 0 || total == 0 {
		t.Fatalf("%s: %d of %d requests failed (last: %s)", what, got.Errors, total, got.LastErr)
	}
	if len(got.ServedBy) != len(pods) {
		t.Fatalf("%s: served by %v, want all of %v", what, got.ServedBy, pods)
	}
	for pod, k := range got.ServedBy {
		share := float64(k) / float64(total)
		if !pods[pod] || share < 0.20 || share > 0.47 {
			t.Fatalf("%s: served by %v: %s got %.0f %%, want 20-47 %% each", what, got.ServedBy, pod, 100*share)
		}
	}
}

// serviceFor is a Service for the seed's pods on port 80 -> 8000, its port
// named portName.
func serviceFor(name string, typ corev1.ServiceType, portName string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{
		Type:     typ,
		Selector: map[string]string{"app": "ml-model"},
		Ports:    []corev1.ServicePort{{Name: portName, Port: 80, TargetPort: intstr.FromInt32(8000), Protocol: corev1.ProtocolTCP}},
	}}
}

// waitAnswers waits until url answers from the client pod.
func waitAnswers(t *testing.T, inPod func(...string) result, url string) {
	t.Helper()
	eventually(t, 60*time.Second, url+" answering from a pod", func() bool {
		return inPod("get", "-timeout", "2s", url).Code == 0
	})
}

// hostGet GETs url from the test process, outside every pod.
func hostGet(t *testing.T, url string) string {
	t.Helper()
	var body string
	err := poll(200*time.Millisecond, 30*time.Second, func() error {
		resp, err := (&http.Client{Timeout: 3 * time.Second}).Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		return err
	})
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return body
}

// resolvLines is resolv.conf's lines, less comments and blank lines.
func resolvLines(conf string) []string {
	var lines []string
	for _, l := range strings.Split(conf, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

// skiffTables lists the nftables tables skiff's node components (service
// proxy, NetworkPolicy) own, sorted: the kernel lists them in the order
// they were made, and the components start side by side.
func skiffTables(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list tables: %v\n%s", err, out)
	}
	var tables []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "skiff") {
			tables = append(tables, strings.TrimSpace(l))
		}
	}
	slices.Sort(tables)
	return strings.Join(tables, ", ")
}

// readinessLeavesService makes one of two pods fail its readiness probe
// (periodSeconds 1, failureThreshold 2) and checks that it leaves the
// Service's endpoints within 2 × 1 s + 1 s and gets no more requests.
func (n *nodeSuite) readinessLeavesService(t *testing.T, inPod func(...string) result) {
	s, c := n.s, n.s.client()
	ctx := context.Background()
	for _, name := range []string{"flip-a", "flip-b"} {
		ctr := n.container("server")
		ctr.VolumeMounts = []corev1.VolumeMount{{Name: "gate", MountPath: "/gate"}}
		ctr.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{n.shell, "-c", "test -f /gate/ready"}}},
			PeriodSeconds: 1, FailureThreshold: 2}
		init := n.shellContainer("open-gate", "touch /gate/ready")
		init.VolumeMounts = ctr.VolumeMounts
		n.createPod(seedNS, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "flip"}}, Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{init},
			Containers:     []corev1.Container{ctr},
			Volumes:        []corev1.Volume{{Name: "gate", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		}})
	}
	flip := serviceFor("flip", corev1.ServiceTypeClusterIP, "")
	flip.Spec.Selector = map[string]string{"app": "flip"}
	created, err := c.CoreV1().Services(seedNS).Create(ctx, flip, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"flip-a", "flip-b"} {
		n.waitPod(seedNS, name, 60*time.Second, "Ready", podReady)
	}
	url := "http://" + created.Spec.ClusterIP + "/predict"
	eventually(t, 30*time.Second, "both flip pods serving", func() bool {
		var got tally
		r := inPod("get", "-n", "20", url)
		return json.Unmarshal([]byte(r.Stdout), &got) == nil && len(got.ServedBy) == 2
	})
	s.ok("exec", "flip-a", "-c", "server", "-n", seedNS, "--", "rm", "/gate/ready")
	closed := time.Now()
	var left time.Duration
	eventually(t, 30*time.Second, "flip-a not ready in the Service's EndpointSlice", func() bool {
		slices, err := c.DiscoveryV1().EndpointSlices(seedNS).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=flip"})
		if err != nil {
			return false
		}
		for _, sl := range slices.Items {
			for _, ep := range sl.Endpoints {
				if ep.TargetRef != nil && ep.TargetRef.Name == "flip-a" && ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
					left = time.Since(closed)
					return true
				}
			}
		}
		return false
	})
	if limit := 2*time.Second + time.Second; left > limit {
		t.Errorf("flip-a left the Service %s after its readiness began failing, want within %s", left, limit)
	}
	var got tally
	if r := inPod("get", "-n", "30", url); json.Unmarshal([]byte(r.Stdout), &got) != nil || got.OK != 30 || got.ServedBy["flip-a"] != 0 {
		t.Errorf("after flip-a became unready: %s %s", r.Stdout, r.Stderr)
	}
}

// podFilesAreTheirOwn: on the process runtime, two pods mounting different
// ConfigMaps at the same path each see their own file, each has its own
// resolv.conf, and the host has no such path afterwards.
func (n *nodeSuite) podFilesAreTheirOwn(t *testing.T) {
	s, c := n.s, n.s.client()
	ctx := context.Background()
	const dir = "/etc/skiff-e2e-model"
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s exists on the host before the test", dir)
	}
	for _, name := range []string{"files-a", "files-b"} {
		if _, err := c.CoreV1().ConfigMaps(seedNS).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name},
			Data: map[string]string{"model.txt": "model of " + name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ctr := n.shellContainer("c", "sleep 3600")
		ctr.VolumeMounts = []corev1.VolumeMount{{Name: "model", MountPath: dir}}
		n.createPod(seedNS, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{ctr},
			Volumes: []corev1.Volume{{Name: "model", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}},
		}})
	}
	for _, name := range []string{"files-a", "files-b"} {
		n.waitPod(seedNS, name, 60*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		if got := s.ok("exec", name, "-n", seedNS, "--", "cat", dir+"/model.txt"); got != "model of "+name {
			t.Errorf("%s sees %q at %s/model.txt", name, got, dir)
		}
		if got := s.ok("exec", name, "-n", seedNS, "--", "cat", "/etc/resolv.conf"); !strings.Contains(got, "nameserver 10.43.0.10") {
			t.Errorf("%s's resolv.conf is not its own:\n%s", name, got)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s appeared on the host while the pods ran", dir)
	}
	s.ok("delete", "pod", "files-a", "files-b", "-n", seedNS, "--wait=true", "--timeout=60s")
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s is on the host after the pods are gone", dir)
	}
}
