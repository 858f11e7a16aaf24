package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// TestTopProcess runs `kubectl top` against a server whose own node runs
// the process runtime: the server scrapes the node's /metrics/resource
// every second and serves metrics.k8s.io. A container that spins shows
// CPU, an idle one next to it shows little.
func TestTopProcess(t *testing.T) {
	n := startNodeSuite(t, "process", "--metric-resolution", "1s")
	s, c := n.s, n.s.client()
	s.ok("create", "namespace", "load")
	manifest := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: burner
  namespace: load
spec:
  replicas: 1
  selector:
    matchLabels: {app: burner}
  template:
    metadata:
      labels: {app: burner}
    spec:
      containers:
      - name: burn
        image: localhost/skiff/model-server:v2
        command: [%[1]q, "-c", "while :; do :; done"]
        resources:
          requests: {cpu: 100m, memory: 16Mi}
          limits: {cpu: 500m, memory: 64Mi}
      - name: idle
        image: localhost/skiff/model-server:v2
        command: [%[1]q, "-c", "sleep 3600"]
`, n.shell)
	if r := s.kubectl(manifest, nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("apply: %s", r.Stderr)
	}
	eventually(t, 90*time.Second, "the burner pod Running", func() bool { return readyRunning(t, c, "load", "app=burner", 1) })
	pod := livePods(t, c, "load", "app=burner")[0].Name

	eventually(t, 60*time.Second, "kubectl top nodes shows the node", func() bool {
		r := s.kubectl("", nil, "top", "nodes")
		return r.Code == 0 && strings.Contains(r.Stdout, "CPU(cores)") && strings.Contains(r.Stdout, n.node)
	})
	// The spinning container shows CPU, the idle one far less.
	var out string
	eventually(t, 60*time.Second, "kubectl top pods --containers shows the spinning container's CPU", func() bool {
		r := s.kubectl("", nil, "top", "pods", "-A", "--containers")
		if r.Code != 0 {
			return false
		}
		out = r.Stdout
		burn, idle := topCPU(out, pod, "burn"), topCPU(out, pod, "idle")
		return burn >= 100 && idle >= 0 && idle < burn/2
	})
	t.Logf("kubectl top pods -A --containers:\n%s", out)
	if !strings.Contains(out, "NAMESPACE") || !strings.Contains(out, "MEMORY(bytes)") {
		t.Errorf("kubectl top pods -A --containers:\n%s", out)
	}
	for _, sortBy := range []string{"cpu", "memory"} {
		if out := s.ok("top", "pods", "-n", "load", "--sort-by="+sortBy); !strings.Contains(out, pod) {
			t.Errorf("kubectl top pods --sort-by=%s:\n%s", sortBy, out)
		}
	}
	if out := s.ok("top", "pod", pod, "-n", "load"); !strings.Contains(out, pod) {
		t.Errorf("kubectl top pod %s:\n%s", pod, out)
	}
	out = s.ok("top", "nodes", "--sort-by=memory")
	t.Logf("kubectl top nodes --sort-by=memory:\n%s", out)
	if !strings.Contains(out, n.node) {
		t.Errorf("kubectl top nodes --sort-by=memory:\n%s", out)
	}
}

// topCPU is the CPU in millicores that `kubectl top pods -A --containers`
// shows for the container of the pod, -1 when it shows none.
func topCPU(out, pod, container string) int64 {
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		// NAMESPACE POD NAME CPU(cores) MEMORY(bytes)
		if len(f) == 5 && f[1] == pod && f[2] == container {
			q, err := resource.ParseQuantity(f[3])
			if err != nil {
				return -1
			}
			return q.MilliValue()
		}
	}
	return -1
}
