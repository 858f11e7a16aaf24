package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// runAutoscale measures the HorizontalPodAutoscaler: from CPU load starting
// on one model server to a second replica Ready and serving (process
// runtime), with Kubernetes' default 15 s sync and metric resolution and
// with both shortened to 2 s; and the HPA controller's CPU time per sync
// with 1,000 HPAs on hollow nodes.
func runAutoscale(skiff, modelServer string) error {
	modelServer, err := filepath.Abs(modelServer)
	if err != nil {
		return err
	}
	for _, period := range []time.Duration{15 * time.Second, 2 * time.Second} {
		took, err := loadToServing(skiff, modelServer, period)
		if err != nil {
			return fmt.Errorf("sync period %s: %w", period, err)
		}
		goal := ""
		if period == 2*time.Second {
			goal = "< 10 s"
		}
		fmt.Printf("| HPA on CPU, process runtime: load starts → a new replica Ready and serving; sync period and metric resolution %s | %.1f s | %s |\n",
			period, took.Seconds(), goal)
	}
	perSync, err := hpaSyncCPU(skiff, 1000)
	if err != nil {
		return fmt.Errorf("1000 HPAs: %w", err)
	}
	fmt.Printf("| HPA controller: server CPU time per sync of 1000 HPAs on 100 hollow nodes (with HPAs less without, metrics API included) | %.0f ms | |\n",
		float64(perSync.Microseconds())/1000)
	return nil
}

// loadToServing starts a server with the HPA's sync period and the metric
// resolution at period, one model server with an HPA on CPU (50 % of 100m),
// and times from the start of /burn load through the ClusterIP until a new
// replica is Ready and has answered a request.
func loadToServing(skiff, modelServer string, period time.Duration) (time.Duration, error) {
	kport, err := freePort()
	if err != nil {
		return 0, err
	}
	p, _, err := start(skiff, "--runtime", "process", "--node-name", "bench-node", "--kubelet-port", strconv.Itoa(kport),
		"--bind-address", "0.0.0.0", "--cluster-cidr", "10.172.0.0/16", "--service-cidr", "10.173.0.0/16",
		"--horizontal-pod-autoscaler-sync-period="+period.String(), "--metric-resolution="+period.String())
	if err != nil {
		return 0, err
	}
	defer p.stop()
	client, err := p.client()
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	if err := waitNodes(ctx, client, 1); err != nil {
		return 0, err
	}
	_, clusterIP, _, err := deployModel(ctx, client, modelServer, func(c *corev1.Container) {
		c.Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
		}
	})
	if err != nil {
		return 0, err
	}
	first, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=bench-model"})
	if err != nil || len(first.Items) != 1 {
		return 0, fmt.Errorf("the first replica: %v", err)
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "bench-model"}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "bench-model"},
		MinReplicas:    ptr.To[int32](1), MaxReplicas: 5,
		Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)}}}},
	}}
	if _, err := client.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	// The HPA has measured the idle replica before the load starts.
	if err := until(3*time.Minute, func() bool {
		h, err := client.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "bench-model", metav1.GetOptions{})
		return err == nil && len(h.Status.CurrentMetrics) > 0
	}); err != nil {
		return 0, errors.New("the HPA reported no metric")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	begin := time.Now()
	url := "http://" + net.JoinHostPort(clusterIP, "80") + "/burn?ms=20"
	for range 4 {
		wg.Go(func() {
			// A connection per request: the service proxy balances
			// connections, so keep-alive clients would stay on the first
			// replica (as with kube-proxy).
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if resp, err := c.Get(url); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	var took time.Duration
	err = until(3*time.Minute, func() bool {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=bench-model"})
		if err != nil {
			return false
		}
		for _, pod := range pods.Items {
			if pod.UID == first.Items[0].UID || !podIsReady(&pod) {
				continue
			}
			if n, err := servedRequests(pod.Status.PodIP); err == nil && n > 0 {
				took = time.Since(begin)
				return true
			}
		}
		return false
	})
	if err != nil {
		// What the autoscaler saw and the replicas it made, to tell a
		// metrics gap from a replica that does not serve.
		if h, herr := client.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "bench-model", metav1.GetOptions{}); herr == nil {
			fmt.Fprintf(os.Stderr, "bench: HPA status %+v\n", h.Status)
		}
		if pods, perr := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=bench-model"}); perr == nil {
			for _, pod := range pods.Items {
				n, serr := servedRequests(pod.Status.PodIP)
				fmt.Fprintf(os.Stderr, "bench: pod %s ready=%v ip=%s /burn served %v (%v)\n", pod.Name, podIsReady(&pod), pod.Status.PodIP, n, serr)
			}
		}
	}
	return took, err
}

// servedRequests is the model server's count of /burn requests answered,
// from its /metrics.
func servedRequests(podIP string) (float64, error) {
	resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + net.JoinHostPort(podIP, "8000") + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, err
	}
	var n float64
	if f := families["http_requests_total"]; f != nil {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "path" && l.GetValue() == "/burn" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n, nil
}

func podIsReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// until polls cond every 100 ms until it holds or timeout passes.
func until(timeout time.Duration, cond func() bool) error {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return nil
		}
	}
	return fmt.Errorf("not within %s", timeout)
}

// hpaSyncCPU measures the server's CPU time per HPA sync period with n
// Deployments of one replica on 100 hollow nodes: once with an HPA on each,
// once without, each over several sync periods; the difference, per sync,
// is the HPA controller's cost (and the metrics API's it calls).
func hpaSyncCPU(skiff string, n int) (time.Duration, error) {
	const period, syncs = 5 * time.Second, 6
	var cpu [2]time.Duration
	for i, withHPAs := range []bool{false, true} {
		p, _, err := start(skiff, "--disable-agent", "--hollow-nodes", "100",
			"--horizontal-pod-autoscaler-sync-period="+period.String(), "--metric-resolution="+period.String())
		if err != nil {
			return 0, err
		}
		used, err := func() (time.Duration, error) {
			defer p.stop()
			client, err := p.client()
			if err != nil {
				return 0, err
			}
			ctx := context.Background()
			if err := waitNodes(ctx, client, 100); err != nil {
				return 0, err
			}
			if err := createScaled(ctx, client, n, withHPAs); err != nil {
				return 0, err
			}
			if err := until(5*time.Minute, func() bool { return runningPods(ctx, client) >= n }); err != nil {
				return 0, fmt.Errorf("%d pods running: %w", n, err)
			}
			time.Sleep(2 * period) // the HPAs' first syncs and the first scrapes pass
			before, err := cpuTime(p.cmd.Process.Pid)
			if err != nil {
				return 0, err
			}
			time.Sleep(syncs * period) // the measurement window
			after, err := cpuTime(p.cmd.Process.Pid)
			return after - before, err
		}()
		if err != nil {
			return 0, err
		}
		cpu[i] = used
	}
	return (cpu[1] - cpu[0]) / syncs, nil
}

// createScaled creates n one-replica Deployments (100m CPU requested) and,
// withHPAs, an HPA on CPU for each.
func createScaled(ctx context.Context, client kubernetes.Interface, n int, withHPAs bool) error {
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			name := fmt.Sprintf("app-%d", i)
			labels := map[string]string{"app": name}
			tmpl := benchPod(0)
			tmpl.Name, tmpl.Labels = "", labels
			tmpl.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
			_, err := client.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}}}, metav1.CreateOptions{})
			if err == nil && withHPAs {
				_, err = client.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
					ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
						ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
						MinReplicas:    ptr.To[int32](1), MaxReplicas: 5,
						Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
							Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)}}}},
					}}, metav1.CreateOptions{})
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func runningPods(ctx context.Context, client kubernetes.Interface) int {
	list, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return 0
	}
	n := 0
	for _, pod := range list.Items {
		if pod.Status.Phase == corev1.PodRunning {
			n++
		}
	}
	return n
}

// cpuTime is the user and system CPU time process pid has used
// (/proc/pid/stat fields 14 and 15, in clock ticks of 1/100 s).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
