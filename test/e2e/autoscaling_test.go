package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The autoscaling suite (issue 11): the seed's deployment, service and
// hpa.yaml on a real runtime, CPU load through the Service, the
// HorizontalPodAutoscaler scaling up and back; kubectl top against the
// cgroups; and (process runtime) an HPA on the Pods metric
// http_requests_per_second scraped from the model server's /metrics, with
// no Prometheus and no adapter.

func TestAutoscalingProcess(t *testing.T) { runAutoscalingSuite(t, "process") }

func TestAutoscalingCRI(t *testing.T) { runAutoscalingSuite(t, "cri") }

// autoscalingArgs shorten the HPA's sync period, its downscale
// stabilization and the metrics' resolution, as the issue allows.
var autoscalingArgs = []string{
	"--horizontal-pod-autoscaler-sync-period=2s",
	"--horizontal-pod-autoscaler-downscale-stabilization=15s",
	"--metric-resolution=2s",
}

func runAutoscalingSuite(t *testing.T, rt string) {
	// Ranges of its own, one pair per runtime (see runRolloutSuite).
	ranges := map[string][]string{
		"process": {"--cluster-cidr", "10.162.0.0/16", "--service-cidr", "10.163.0.0/16"},
		"cri":     {"--cluster-cidr", "10.164.0.0/16", "--service-cidr", "10.165.0.0/16"},
	}
	n := startNodeSuite(t, rt, append(ranges[rt], autoscalingArgs...)...)
	s, c := n.s, n.s.client()
	loadgen := staticBin(t, "LOADGEN_BIN", "./cmd/loadgen")
	applySeed(t, n, "deployment.yaml", "service.yaml", "hpa.yaml")
	// On the process runtime the HPA on requests per second runs beside
	// the one on CPU, each phase at the same time.
	var rps *rpsScaling
	if rt == "process" {
		rps = startRequestsPerSecond(t, n, loadgen)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hpa, pods:\n%s\n%s", s.kubectl("", nil, "describe", "hpa", "-n", seedNS).Stdout,
				s.kubectl("", nil, "get", "pods", "-n", seedNS, "-o", "wide").Stdout)
		}
	})

	// Idle, the HPA brings the seed's 3 replicas down to its minReplicas 2
	// once the stabilization window has passed, and shows what it measured.
	eventually(t, 150*time.Second, "the HPA scales the idle ml-model to 2 and shows its CPU utilization", func() bool {
		return deploymentReplicas(t, c, "ml-model") == 2 && hpaUtilization(s, "ml-model-hpa") >= 0
	})
	eventually(t, 90*time.Second, "2 ml-model pods Ready", func() bool { return settledPods(t, c, 2) })

	// kubectl top: every pod with CPU and memory within 10 % of what its
	// containers' cgroups say (a pod held at 200m by its CPU limit, so the CPU is
	// steady); the node.
	busy := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "busy", Labels: map[string]string{"app": "busy"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{n.shellContainer("busy", "while :; do :; done")}}}
	busy.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}
	n.createPod(seedNS, busy)
	eventually(t, 60*time.Second, "pod busy Running", func() bool { return readyRunning(t, c, seedNS, "app=busy", 1) })
	for _, sel := range []string{"app=ml-model", "app=busy"} {
		eventually(t, 60*time.Second, "kubectl top pods -l "+sel+" matches the pods' cgroups", func() bool {
			return topMatchesCgroups(t, s, c, sel)
		})
	}
	s.ok("delete", "pod", "busy", "-n", seedNS)
	if out := s.ok("top", "nodes"); !regexp.MustCompile(`(?m)^` + n.node + `\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%`).MatchString(out) {
		t.Errorf("kubectl top nodes does not show %s with its usage:\n%s", n.node, out)
	}

	// CPU load through the ClusterIP: /burn spends CPU in the pods.
	svc, err := c.CoreV1().Services(seedNS).Get(context.Background(), "ml-model-service", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 20 requests/s of 25 ms of CPU: 500m over 2 pods requesting 250m is
	// 100 % against the target's 70 %, so 3 replicas.
	burn := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, "80") + "/burn?ms=25"
	if rps != nil {
		rps.load()
	}
	stop := startLoad(t, loadgen, 20, burn)
	start := time.Now()
	eventually(t, 60*time.Second, "the HPA raises ml-model above 2 replicas under CPU load", func() bool {
		return deploymentReplicas(t, c, "ml-model") > 2
	})
	t.Logf("ml-model scaled to %d replicas %s after the load started; kubectl get hpa:\n%s",
		deploymentReplicas(t, c, "ml-model"), time.Since(start).Round(time.Second), s.ok("get", "hpa", "-n", seedNS))
	if u := hpaUtilization(s, "ml-model-hpa"); u <= 70 {
		// The utilization that made it scale may already have been spread
		// over the new pods; the event names the reason.
		if !strings.Contains(s.ok("describe", "hpa", "ml-model-hpa", "-n", seedNS), "cpu resource utilization (percentage of request) above target") {
			t.Errorf("kubectl get hpa shows %d%% and describe has no SuccessfulRescale above target", u)
		}
	}
	stop()
	if rps != nil {
		rps.scaledUp()
	}

	// Load stopped: back to minReplicas once the window has passed.
	eventually(t, 120*time.Second, "the HPA scales ml-model back to 2 after the load stopped", func() bool {
		return deploymentReplicas(t, c, "ml-model") == 2
	})
	desc := s.ok("describe", "hpa", "ml-model-hpa", "-n", seedNS)
	for _, want := range []string{"SuccessfulRescale", "AbleToScale", "ScalingActive", "ScalingLimited", "Min replicas:", "2"} {
		if !strings.Contains(desc, want) {
			t.Errorf("kubectl describe hpa lacks %q:\n%s", want, desc)
		}
	}
	if rps != nil {
		rps.scaledDown()
	}
}

// rpsScaling: a model server annotated for scraping, an HPA on the Pods
// metric http_requests_per_second (averageValue 10): 50 requests/s take it
// from 1 to at least 3 replicas, and back to 1 when they stop.
type rpsScaling struct {
	t         *testing.T
	s         *server
	c         kubernetes.Interface
	url       string
	loadgen   string
	stopLoad  func()
	loadStart time.Time
}

// startRequestsPerSecond creates the Deployment, Service and HPA and waits
// until the HPA has found its metric.
func startRequestsPerSecond(t *testing.T, n *nodeSuite, loadgen string) *rpsScaling {
	t.Helper()
	s, c := n.s, n.s.client()
	manifest := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: rps-model, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: rps-model}}
  template:
    metadata:
      labels: {app: rps-model}
      annotations: {prometheus.io/scrape: "true", prometheus.io/port: "8000", prometheus.io/path: /metrics}
    spec:
      containers:
      - name: model
        image: localhost/skiff/model-server:v2
        command: [%[2]q]
        ports: [{containerPort: 8000}]
        resources: {requests: {cpu: 10m, memory: 32Mi}}
        readinessProbe: {httpGet: {path: /health, port: 8000}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: rps-model, namespace: %[1]s}
spec:
  selector: {app: rps-model}
  ports: [{port: 80, targetPort: 8000}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: rps-model, namespace: %[1]s}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: rps-model}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Pods
    pods:
      metric: {name: http_requests_per_second}
      target: {type: AverageValue, averageValue: "10"}
`, seedNS, n.model[0])
	if r := s.kubectl(manifest, nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("apply rps-model: %s", r.Stderr)
	}
	eventually(t, 90*time.Second, "the HPA on http_requests_per_second finds its metric", func() bool {
		return regexp.MustCompile(`\d+(m|)/10\s`).MatchString(s.kubectl("", nil, "get", "hpa", "rps-model", "-n", seedNS).Stdout)
	})
	svc, err := c.CoreV1().Services(seedNS).Get(context.Background(), "rps-model", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &rpsScaling{t: t, s: s, c: c, loadgen: loadgen, url: "http://" + net.JoinHostPort(svc.Spec.ClusterIP, "80") + "/predict?input=rps"}
}

// load starts 50 requests/s on the Service.
func (r *rpsScaling) load() {
	r.stopLoad, r.loadStart = startLoad(r.t, r.loadgen, 50, r.url), time.Now()
}

// scaledUp waits for 3 replicas or more, then stops the load.
func (r *rpsScaling) scaledUp() {
	r.t.Helper()
	eventually(r.t, 90*time.Second-time.Since(r.loadStart), "the HPA raises rps-model to 3 or more replicas under 50 requests/s", func() bool {
		return deploymentReplicas(r.t, r.c, "rps-model") >= 3
	})
	r.t.Logf("rps-model at %d replicas %s after its load started; kubectl get hpa rps-model:\n%s", deploymentReplicas(r.t, r.c, "rps-model"),
		time.Since(r.loadStart).Round(time.Second), r.s.ok("get", "hpa", "rps-model", "-n", seedNS))
	r.stopLoad()
}

// scaledDown waits until the HPA is back at 1 replica.
func (r *rpsScaling) scaledDown() {
	r.t.Helper()
	eventually(r.t, 120*time.Second, "the HPA scales rps-model back to 1 after the requests stopped", func() bool {
		return deploymentReplicas(r.t, r.c, "rps-model") == 1
	})
}

// startLoad runs cmd/loadgen at rate requests/s on url until the returned
// function is called (or the test ends).
func startLoad(t *testing.T, loadgen string, rate int, url string) func() {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(loadgen, "-rate", strconv.Itoa(rate), "-timeout", "5s", url)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		t.Logf("load on %s: %s", url, strings.TrimSpace(out.String()))
	}
	t.Cleanup(stop)
	return stop
}

func deploymentReplicas(t *testing.T, c kubernetes.Interface, name string) int32 {
	t.Helper()
	return deploymentReplicasIn(c, seedNS, name)
}

func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// hpaUtilization is the CPU utilization kubectl get hpa shows for name
// (TARGETS "cpu: 34%/70%"), or -1 while it shows none.
func hpaUtilization(s *server, name string) int {
	m := regexp.MustCompile(`cpu: (\d+)%/70%`).FindStringSubmatch(s.kubectl("", nil, "get", "hpa", name, "-n", seedNS).Stdout)
	if m == nil {
		return -1
	}
	u, _ := strconv.Atoi(m[1])
	return u
}

// topMatchesCgroups: kubectl top pods lists every pod of selector, with
// the CPU within 10 % (or 5m) of its cgroup's usage over the last seconds
// and the memory within 10 % (or 1Mi) of its cgroup's working set (usage
// less inactive file pages, as Kubernetes defines it).
func topMatchesCgroups(t *testing.T, s *server, c kubernetes.Interface, selector string) bool {
	t.Helper()
	pods := livePods(t, c, seedNS, selector)
	if len(pods) == 0 {
		return false
	}
	const window = 4 * time.Second
	// A pod's usage in the metrics API is the sum of its containers' (the
	// sandbox is not counted), so sum their cgroups: each container's is
	// below the pod's, named by its ID.
	cgroups := func(p corev1.Pod) []string {
		var rels []string
		for _, cs := range p.Status.ContainerStatuses {
			if _, id, ok := strings.Cut(cs.ContainerID, "://"); ok {
				rels = append(rels, "/skiff/pod"+string(p.UID)+"/"+id)
			}
		}
		return rels
	}
	sum := func(p corev1.Pod, read func(*testing.T, string) int64) int64 {
		var n int64
		for _, rel := range cgroups(p) {
			n += read(t, rel)
		}
		return n
	}
	before := map[string]int64{}
	for _, p := range pods {
		before[p.Name] = sum(p, cgroupCPU)
	}
	time.Sleep(window) // the cgroup's CPU rate is measured over this window
	r := s.kubectl("", nil, "top", "pods", "-n", seedNS, "-l", selector)
	if r.Code != 0 {
		t.Logf("kubectl top pods: %s", r.Stderr)
		return false
	}
	rows := map[string][2]float64{}
	for _, m := range regexp.MustCompile(`(?m)^(\S+)\s+(\d+)m\s+(\d+)Mi\s*$`).FindAllStringSubmatch(r.Stdout, -1) {
		cpu, _ := strconv.ParseFloat(m[2], 64)
		mem, _ := strconv.ParseFloat(m[3], 64)
		rows[m[1]] = [2]float64{cpu, mem}
	}
	for _, p := range pods {
		row, ok := rows[p.Name]
		if !ok {
			t.Logf("kubectl top pods does not list %s yet:\n%s", p.Name, r.Stdout)
			return false
		}
		cpu := float64(sum(p, cgroupCPU)-before[p.Name]) / float64(window.Nanoseconds()) * 1000
		mem := float64(sum(p, cgroupWorkingSet)) / (1 << 20)
		if !within(row[0], cpu, 5) || !within(row[1], mem, 1) {
			t.Logf("pod %s: kubectl top shows %.0fm %.0fMi, its cgroup %.1fm %.1fMi", p.Name, row[0], row[1], cpu, mem)
			return false
		}
	}
	return true
}

// within: got is within 10 % of want, or slack.
func within(got, want, slack float64) bool {
	d := got - want
	if d < 0 {
		d = -d
	}
	return d <= max(want*0.1, slack)
}

// cgroupCPU is the CPU time the cgroup rel has used, in nanoseconds.
func cgroupCPU(t *testing.T, rel string) int64 {
	t.Helper()
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return cgroupStat(t, "/sys/fs/cgroup"+rel+"/cpu.stat", "usage_usec") * 1000
	}
	return cgroupValue(t, "/sys/fs/cgroup/cpuacct"+rel+"/cpuacct.usage")
}

// cgroupWorkingSet reads the working set of the cgroup rel: cgroup v2's
// memory.current less inactive_file, or v1's memory.usage_in_bytes less
// total_inactive_file.
func cgroupWorkingSet(t *testing.T, rel string) int64 {
	t.Helper()
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		dir := "/sys/fs/cgroup" + rel
		return max(cgroupValue(t, dir+"/memory.current")-cgroupStat(t, dir+"/memory.stat", "inactive_file"), 0)
	}
	dir := "/sys/fs/cgroup/memory" + rel
	return max(cgroupValue(t, dir+"/memory.usage_in_bytes")-cgroupStat(t, dir+"/memory.stat", "total_inactive_file"), 0)
}

// cgroupValue reads a cgroup file holding one number.
func cgroupValue(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// cgroupStat reads key from a cgroup file of "key value" lines.
func cgroupStat(t *testing.T, path, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %s: %v", path, key, err)
			}
			return n
		}
	}
	t.Fatalf("%s has no %s", path, key)
	return 0
}

// TestHollowAutoscaling: 100 Deployments with an HPA each on 100 hollow
// nodes (one made by kubectl autoscale). Setting their pods' simulated CPU moves every one of them to the
// replica count the HPA's rule gives within two sync periods (after the
// metrics pipeline's two scrapes), and kubectl top pods -A lists every pod.
func TestHollowAutoscaling(t *testing.T) {
	t.Parallel()
	const apps, syncPeriod, resolution = 100, 5 * time.Second, 2 * time.Second
	s := startServer(t, "--disable-agent", "--hollow-nodes", strconv.Itoa(apps),
		"--horizontal-pod-autoscaler-sync-period="+syncPeriod.String(), "--metric-resolution="+resolution.String())
	c := s.client()
	ctx := context.Background()
	const ns = "hollow-hpa"
	s.ok("create", "namespace", ns)
	var manifest strings.Builder
	for i := range apps {
		fmt.Fprintf(&manifest, `apiVersion: apps/v1
kind: Deployment
metadata: {name: app-%[1]d, namespace: %[2]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: app-%[1]d}}
  template:
    metadata: {labels: {app: app-%[1]d}}
    spec:
      containers: [{name: model, image: model, resources: {requests: {cpu: 100m}}}]
---
`, i, ns)
		if i == 0 {
			continue // its HPA comes from kubectl autoscale, below
		}
		fmt.Fprintf(&manifest, `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: app-%[1]d, namespace: %[2]s}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: app-%[1]d}
  minReplicas: 1
  maxReplicas: 5
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]
---
`, i, ns)
	}
	if r := s.kubectl(manifest.String(), nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("apply: %s", r.Stderr)
	}
	if out := s.ok("autoscale", "deployment", "app-0", "-n", ns, "--cpu=50%", "--min=1", "--max=5"); !strings.Contains(out, "autoscaled") {
		t.Errorf("kubectl autoscale printed %q", out)
	}
	eventually(t, 120*time.Second, fmt.Sprintf("%d pods Running", apps), func() bool { return readyRunning(t, c, ns, "", apps) })
	eventually(t, 60*time.Second, "kubectl top pods -A lists every pod", func() bool {
		out := s.kubectl("", nil, "top", "pods", "-A").Stdout
		for _, p := range livePods(t, c, ns, "") {
			if !strings.Contains(out, p.Name) {
				return false
			}
		}
		return true
	})
	eventually(t, 60*time.Second, "every HPA shows a CPU utilization", func() bool {
		return !strings.Contains(s.kubectl("", nil, "get", "hpa", "-n", ns).Stdout, "<unknown>")
	})

	// 120m on a pod that requests 100m against a 50 % target: 240 %, so 3
	// replicas (ceil(1 × 120/50)); the new pods' small default usage keeps
	// the average within the tolerance of the target at 3.
	// A client without client-go's default rate limit, so the 100 patches
	// land within a moment of each other and the clock starts at the last.
	cfg := s.restConfig()
	cfg.QPS, cfg.Burst = 1000, 1000
	fast := kubernetes.NewForConfigOrDie(cfg)
	for _, p := range livePods(t, c, ns, "") {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"120m"}}}`, "skiff.dev/simulate-cpu")
		if _, err := fast.CoreV1().Pods(ns).Patch(ctx, p.Name, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	deadline := 2*syncPeriod + 2*resolution + 2*time.Second
	eventually(t, deadline, "every Deployment at 3 replicas", func() bool {
		list, err := fast.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != apps {
			return false
		}
		for i := range list.Items {
			if replicasOf(&list.Items[i]) != 3 {
				return false
			}
		}
		return true
	})
	if took := time.Since(start); took > deadline {
		t.Errorf("the Deployments reached 3 replicas %s after the change, want within %s", took, deadline)
	}
	t.Logf("%d HPAs scaled their Deployments to 3 %s after the last pod's simulated CPU changed", apps, time.Since(start).Round(100*time.Millisecond))
}

func deploymentReplicasIn(c kubernetes.Interface, ns, name string) int32 {
	d, err := c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return -1
	}
	return replicasOf(d)
}
