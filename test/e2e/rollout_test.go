package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The zero-drop suite (issue 10): the seed's Deployment and Service (image
// switched to the in-repo model server, no preStop sleep) under load from
// cmd/loadgen on the host through the ClusterIP, the NodePort and the
// LoadBalancer address at once, during set image, rollout undo, scale down
// to 1 and the deletion of every pod: no request fails. Then, with the
// kubelet's wait off (--disable-drain-wait), deleting the pods does fail
// requests, which shows that the wait is what keeps them.

func TestRolloutProcess(t *testing.T) { runRolloutSuite(t, "process") }

func TestRolloutCRI(t *testing.T) { runRolloutSuite(t, "cri") }

// loadReport is what cmd/loadgen prints.
type loadReport struct {
	Results []struct {
		URL       string         `json:"url"`
		OK        int            `json:"ok"`
		Failed    int            `json:"failed"`
		Failures  map[string]int `json:"failures"`
		LastError string         `json:"lastError"`
	} `json:"results"`
}

func (r loadReport) failed() int {
	n := 0
	for _, u := range r.Results {
		n += u.Failed
	}
	return n
}

func runRolloutSuite(t *testing.T, rt string) {
	// Ranges of its own, one pair per runtime: other suites' nodes on this
	// host do not take its pod network's route or its ClusterIPs.
	ranges := map[string][]string{
		"process": {"--cluster-cidr", "10.142.0.0/16", "--service-cidr", "10.143.0.0/16"},
		"cri":     {"--cluster-cidr", "10.144.0.0/16", "--service-cidr", "10.145.0.0/16"},
	}
	n := startNodeSuite(t, rt, ranges[rt]...)
	s, c := n.s, n.s.client()
	loadgen := staticBin(t, "LOADGEN_BIN", "./cmd/loadgen")
	applySeed(t, n, "deployment.yaml", "service.yaml")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pods, ReplicaSets and EndpointSlices:\n%s", s.kubectl("", nil, "get", "pods,rs,endpointslices", "-n", seedNS, "-o", "wide").Stdout)
		}
	})
	settled := func(what string, replicas int) {
		t.Helper()
		eventually(t, 120*time.Second, what, func() bool { return settledPods(t, c, replicas) })
	}
	settled("3 ml-model pods Ready", 3)
	urls := serviceURLs(t, n)

	// during runs action under load and waits until done; it returns what
	// the load generator saw.
	during := func(what string, action func(), done func() bool) loadReport {
		t.Helper()
		var out, errOut bytes.Buffer
		cmd := exec.Command(loadgen, append([]string{"-rate", "200", "-timeout", "2s"}, urls...)...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		action()
		eventually(t, 150*time.Second, what+" done", done)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		var rep loadReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Results) != len(urls) {
			t.Fatalf("%s: load generator printed %q (%v), stderr %s", what, out.String(), err, errOut.String())
		}
		for _, u := range rep.Results {
			t.Logf("%s: %s: %d ok, %d failed %v %s", what, u.URL, u.OK, u.Failed, u.Failures, u.LastError)
		}
		return rep
	}
	noneFailed := func(what string, action func(), done func() bool) {
		t.Helper()
		rep := during(what, action, done)
		if rep.failed() > 0 {
			t.Errorf("%s: %d requests failed, want none", what, rep.failed())
		}
		for _, u := range rep.Results {
			if u.OK == 0 {
				t.Errorf("%s: no request to %s succeeded", what, u.URL)
			}
		}
	}
	// kubectl runs a command that must succeed; its warnings are
	// kubectl's own (rollout undo warns about last-applied-configuration,
	// as against any cluster).
	kubectl := func(args ...string) func() {
		return func() {
			if r := s.kubectl("", nil, append(args, "-n", seedNS)...); r.Code != 0 {
				t.Fatalf("kubectl %s: exit %d: %s", strings.Join(args, " "), r.Code, r.Stderr)
			}
		}
	}

	noneFailed("set image", kubectl("set", "image", "deployment/ml-model", "ml-model=localhost/skiff/model-server:v1"),
		func() bool { return settledPods(t, c, 3) && podsOfImage(t, c, "localhost/skiff/model-server:v1") })
	noneFailed("rollout undo", kubectl("rollout", "undo", "deployment/ml-model"),
		func() bool { return settledPods(t, c, 3) && podsOfImage(t, c, "localhost/skiff/model-server:v2") })
	noneFailed("scale --replicas=1", kubectl("scale", "deployment/ml-model", "--replicas=1"),
		func() bool { return settledPods(t, c, 1) })
	s.ok("scale", "deployment/ml-model", "--replicas=3", "-n", seedNS)
	settled("3 ml-model pods Ready after scaling up", 3)
	deleteAll := func(what string, check func(string, func(), func() bool)) {
		old := map[string]bool{}
		for _, p := range livePods(t, c, seedNS, "app=ml-model") {
			old[p.Name] = true
		}
		check(what, kubectl("delete", "pod", "-l", "app=ml-model", "--wait=false"), func() bool {
			pods, err := c.CoreV1().Pods(seedNS).List(context.Background(), metav1.ListOptions{LabelSelector: "app=ml-model"})
			if err != nil {
				return false
			}
			for _, p := range pods.Items {
				if old[p.Name] {
					return false
				}
			}
			return settledPods(t, c, 3)
		})
	}
	deleteAll("deleting every pod", noneFailed)
	if t.Failed() {
		return
	}

	// The same without the kubelet's wait: failures appear. Deleting every
	// pod at once leaves no ready endpoint for the ~10s of the new pods'
	// readiness delay, so the old ones are the proxies' fallback while
	// their containers already stop; a few tries, in case one is lucky.
	s.args = append(s.args, "--disable-drain-wait")
	s.restart()
	settled("3 ml-model pods Ready after the restart with --disable-drain-wait", 3)
	var failed int
	for try := 1; try <= 3 && failed == 0; try++ {
		deleteAll(fmt.Sprintf("deleting every pod without the wait (try %d)", try), func(what string, action func(), done func() bool) {
			failed = during(what, action, done).failed()
		})
	}
	if failed == 0 {
		t.Fatal("with --disable-drain-wait, deleting every pod under load failed no request: the test does not show the wait's effect")
	}
}

// applySeed creates the seed's namespace and secret and applies its
// manifests files (deployment.yaml, service.yaml ...), the image switched
// to the in-repo model server.
func applySeed(t *testing.T, n *nodeSuite, files ...string) {
	t.Helper()
	s := n.s
	s.ok("create", "namespace", seedNS)
	s.ok("create", "secret", "generic", "gcp-credentials", "--from-literal=project_id=demo", "-n", seedNS)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(manifests(), f))
		if err != nil {
			t.Fatal(err)
		}
		m := strings.ReplaceAll(string(b), "gcr.io/my-project/ml-model:v2", "localhost/skiff/model-server:v2")
		if n.model != nil {
			m = strings.Replace(m, "        image: localhost/skiff/model-server:v2\n",
				"        image: localhost/skiff/model-server:v2\n        command: [\""+n.model[0]+"\"]\n", 1)
		}
		if r := s.kubectl(m, nil, "apply", "-f", "-"); r.Code != 0 {
			t.Fatalf("apply %s: %s", f, r.Stderr)
		}
	}
}

// serviceURLs are the seed Service's /predict by ClusterIP, NodePort (on
// the node's address) and LoadBalancer address, as the host reaches them.
func serviceURLs(t *testing.T, n *nodeSuite) []string {
	t.Helper()
	s, c := n.s, n.s.client()
	ctx := context.Background()
	svc, err := c.CoreV1().Services(seedNS).Get(ctx, "ml-model-service", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
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
	var lbIP string
	eventually(t, 60*time.Second, "EXTERNAL-IP of ml-model-service", func() bool {
		m := regexp.MustCompile(`ml-model-service\s+LoadBalancer\s+\S+\s+(\d+\.\d+\.\d+\.\d+)\s`).FindStringSubmatch(s.ok("get", "svc", "ml-model-service", "-n", seedNS))
		if m == nil {
			return false
		}
		lbIP = m[1]
		return true
	})
	urls := []string{
		"http://" + net.JoinHostPort(svc.Spec.ClusterIP, "80") + "/predict",
		"http://" + net.JoinHostPort(nodeIP, fmt.Sprint(svc.Spec.Ports[0].NodePort)) + "/predict",
		"http://" + net.JoinHostPort(lbIP, "80") + "/predict",
	}
	for _, u := range urls {
		eventually(t, 30*time.Second, u+" answers from the host", func() bool { return hostGet(t, strings.TrimSuffix(u, "/predict")+"/health") == "ok" })
	}
	return urls
}

// settledPods: exactly n ml-model pods, all Running and Ready, and none
// terminating.
func settledPods(t *testing.T, c kubernetes.Interface, n int) bool {
	pods, err := c.CoreV1().Pods(seedNS).List(context.Background(), metav1.ListOptions{LabelSelector: "app=ml-model"})
	if err != nil || len(pods.Items) != n {
		return false
	}
	return readyRunning(t, c, seedNS, "app=ml-model", n)
}

// podsOfImage: every ml-model pod runs image.
func podsOfImage(t *testing.T, c kubernetes.Interface, image string) bool {
	for _, p := range livePods(t, c, seedNS, "app=ml-model") {
		if p.Spec.Containers[0].Image != image {
			return false
		}
	}
	return true
}
