package kubelet

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func TestBackOff(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Unix(1000, 0))
	b := newBackOff(clk, 10*time.Second, 5*time.Minute)
	key := "uid/app"
	// The first restart is free.
	if in, _ := b.inBackOff(key, clk.Now()); in {
		t.Fatal("in back-off before any restart")
	}
	var delays []time.Duration
	for i := 0; i < 7; i++ {
		b.next(key, clk.Now())
		delays = append(delays, b.get(key))
		failed := clk.Now()
		if in, left := b.inBackOff(key, failed); !in || left != b.get(key) {
			t.Fatalf("restart %d: in=%v left=%s", i, in, left)
		}
		clk.Step(b.get(key))
		if in, _ := b.inBackOff(key, failed); in {
			t.Fatalf("restart %d: still in back-off after %s", i, b.get(key))
		}
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Errorf("delays = %v, want %v", delays, want)
			break
		}
	}
	// A container that ran 10 minutes starts again at the base.
	clk.Step(11 * time.Minute)
	b.next(key, clk.Now())
	if got := b.get(key); got != 10*time.Second {
		t.Errorf("after a long run: %s", got)
	}

	b.fail("pull", "not found")
	if in, _, msg := b.waiting("pull"); !in || msg != "not found" {
		t.Errorf("waiting = %v %q", in, msg)
	}
	b.forgetPrefix("uid/")
	if b.get(key) != 0 {
		t.Errorf("not forgotten")
	}
}

func TestPullPolicy(t *testing.T) {
	tests := []struct {
		image  string
		policy corev1.PullPolicy
		want   corev1.PullPolicy
	}{
		{"busybox", "", corev1.PullAlways},
		{"busybox:latest", "", corev1.PullAlways},
		{"localhost:5000/skiff/model-server", "", corev1.PullAlways},
		{"localhost:5000/skiff/model-server:v1", "", corev1.PullIfNotPresent},
		{"busybox@sha256:abcd", "", corev1.PullIfNotPresent},
		{"busybox:1.36", corev1.PullNever, corev1.PullNever},
		{"busybox:1.36", corev1.PullAlways, corev1.PullAlways},
	}
	for _, tt := range tests {
		if got := pullPolicy(&corev1.Container{Image: tt.image, ImagePullPolicy: tt.policy}); got != tt.want {
			t.Errorf("%s %q: %s, want %s", tt.image, tt.policy, got, tt.want)
		}
	}
}

func TestContainerResources(t *testing.T) {
	rl := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	tests := []struct {
		name               string
		req, lim           corev1.ResourceList
		shares, quota, mem int64
	}{
		{"best effort", nil, nil, 2, 0, 0},
		{"requests only", rl("cpu", "250m"), nil, 256, 0, 0},
		{"limits only", nil, rl("cpu", "1", "memory", "128Mi"), 1024, 100000, 128 << 20},
		{"both", rl("cpu", "100m"), rl("cpu", "1500m", "memory", "1Gi"), 102, 150000, 1 << 30},
		{"tiny", rl("cpu", "1m"), nil, 2, 0, 0},
	}
	for _, tt := range tests {
		r := containerResources(&corev1.Container{Resources: corev1.ResourceRequirements{Requests: tt.req, Limits: tt.lim}})
		if r.CpuShares != tt.shares || r.CpuQuota != tt.quota || r.MemoryLimitInBytes != tt.mem || r.CpuPeriod != 100000 {
			t.Errorf("%s: %+v", tt.name, r)
		}
	}
}

func TestAdmit(t *testing.T) {
	alloc := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi"), corev1.ResourcePods: resource.MustParse("3"),
	}
	pod := func(cpu, mem string, gpu int64) *corev1.Pod {
		r := corev1.ResourceList{}
		if cpu != "" {
			r[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			r[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		if gpu > 0 {
			r[gpuResource] = *resource.NewQuantity(gpu, resource.DecimalSI)
		}
		return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: corev1.ResourceRequirements{Requests: r}}}}}
	}
	used := []corev1.ResourceList{{corev1.ResourceCPU: resource.MustParse("1500m")}}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		admitted []corev1.ResourceList
		reason   string
		message  string
	}{
		{"fits", pod("500m", "512Mi", 0), used, "", ""},
		{"cpu", pod("600m", "", 0), used, "OutOfcpu", "Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000"},
		{"memory", pod("", "2Gi", 0), nil, "OutOfmemory", "Node didn't have enough resource: memory, requested: 2147483648, used: 0, capacity: 1073741824"},
		{"gpu", pod("", "", 1), nil, "OutOfnvidia.com/gpu", "Node didn't have enough resource: nvidia.com/gpu, requested: 1, used: 0, capacity: 0"},
		{"pods", pod("", "", 0), []corev1.ResourceList{{}, {}, {}}, "OutOfpods", "Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3"},
	}
	for _, tt := range tests {
		r := admit(tt.pod, alloc, tt.admitted)
		switch {
		case tt.reason == "" && r != nil:
			t.Errorf("%s: rejected %+v", tt.name, r)
		case tt.reason != "" && (r == nil || r.reason != tt.reason || r.message != tt.message):
			t.Errorf("%s: %+v, want %s %q", tt.name, r, tt.reason, tt.message)
		}
	}
}

func TestPodRequestsWithInitContainers(t *testing.T) {
	c := func(name, cpu string, sidecar bool) corev1.Container {
		ct := corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}
		if sidecar {
			ct.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		}
		return ct
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{c("big-init", "3", false), c("proxy", "500m", true)},
		Containers:     []corev1.Container{c("a", "1", false), c("b", "1", false)},
	}}
	got := podRequests(pod)[corev1.ResourceCPU]
	if got.MilliValue() != 3000 {
		t.Errorf("cpu = %s, want 3 (the init container)", got.String())
	}
	pod.Spec.InitContainers[0] = c("small-init", "100m", false)
	got = podRequests(pod)[corev1.ResourceCPU]
	if got.MilliValue() != 2500 {
		t.Errorf("cpu = %s, want 2.5 (containers and sidecar)", got.String())
	}
}

func TestHostParsing(t *testing.T) {
	if got := parseMemTotal([]byte("MemTotal:       16318412 kB\nMemFree: 1 kB\n")); got != 16318412*1024 {
		t.Errorf("memTotal = %d", got)
	}
	if got := parseOSRelease([]byte("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n")); got != "Debian GNU/Linux 13 (trixie)" {
		t.Errorf("osImage = %q", got)
	}
}

func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	log := "2026-01-01T00:00:00.000000000Z stdout F first\n" +
		"2026-01-01T00:00:00.000000000Z stderr P par\n" +
		"2026-01-01T00:00:00.000000000Z stderr F tial\n" +
		"2026-01-01T00:00:00.000000000Z stdout F last\n"
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := logTail(path, 80, 2048); got != "first\npartial\nlast\n" {
		t.Errorf("tail = %q", got)
	}
	if got := logTail(path, 2, 2048); got != "partial\nlast\n" {
		t.Errorf("tail 2 = %q", got)
	}
	if got := logTail(path, 80, 5); got != "last\n" {
		t.Errorf("tail 5 bytes = %q", got)
	}
}

// The runtime cache keeps the newest read and drops reads begun before
// the pod last changed.
func TestRuntimeCache(t *testing.T) {
	c := newRuntimeCache()
	a, b := &podState{}, &podState{}
	if _, ok := c.get("p"); ok {
		t.Fatal("an empty cache has a state")
	}
	g1 := c.begin()
	g2 := c.begin()
	c.put("p", b, g2)
	c.put("p", a, g1) // older: ignored
	if st, ok := c.get("p"); !ok || st != b {
		t.Fatalf("get = %p %v, want the newer read", st, ok)
	}
	g3 := c.begin()
	c.invalidate("p") // the pod changed after read g3 began
	if _, ok := c.get("p"); ok {
		t.Fatal("state kept after the pod changed")
	}
	c.put("p", a, g3)
	if _, ok := c.get("p"); ok {
		t.Fatal("a read begun before the change was kept")
	}
	g4 := c.begin()
	c.put("p", a, g4)
	if st, ok := c.get("p"); !ok || st != a {
		t.Fatal("a read begun after the change was not kept")
	}
	c.invalidate("gone")
	c.prune(c.begin())
	if _, ok := c.pods["gone"]; ok {
		t.Error("an emptied entry was not pruned")
	}
	if _, ok := c.pods["p"]; !ok {
		t.Error("a current entry was pruned")
	}
}
