package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/agent/proxy"
	"skiff.dev/skiff/internal/wellknown"
)

// runServices measures the data path of Services on a server whose own node
// runs the process runtime: the model server's requests/s and latency
// directly by pod IP, through the ClusterIP and through the NodePort, all
// from the host with the same load.
func runServices(skiff, modelServer string, conns int, dur time.Duration) error {
	modelServer, err := filepath.Abs(modelServer)
	if err != nil {
		return err
	}
	kport, err := freePort()
	if err != nil {
		return err
	}
	p, _, err := start(skiff, "--runtime", "process", "--node-name", "bench-node", "--kubelet-port", strconv.Itoa(kport),
		"--bind-address", "0.0.0.0")
	if err != nil {
		return err
	}
	defer p.stop()
	client, err := p.client()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := waitNodes(ctx, client, 1); err != nil {
		return err
	}
	podIP, clusterIP, nodeAddr, err := deployModel(ctx, client, modelServer)
	if err != nil {
		return err
	}
	targets := []struct{ what, addr string }{
		{"directly by pod IP", net.JoinHostPort(podIP, "8000")},
		{"through the ClusterIP", net.JoinHostPort(clusterIP, "80")},
		{"through the NodePort", nodeAddr},
	}
	var direct loadResult
	for i, tg := range targets {
		url := "http://" + tg.addr + "/predict?input=bench"
		if err := waitAnswer(url, time.Minute); err != nil {
			return fmt.Errorf("%s: %w", tg.what, err)
		}
		r, err := load(url, conns, dur)
		if err != nil {
			return fmt.Errorf("%s: %w", tg.what, err)
		}
		measured := fmt.Sprintf("%.0f req/s; p50 %s, p99 %s", r.rps, msFine(r.p50), msFine(r.p99))
		goal := ""
		if i == 0 {
			direct = r
		} else {
			measured += fmt.Sprintf(" (%.2fx direct throughput, p50 %+.3f ms)", r.rps/direct.rps, float64((r.p50-direct.p50).Microseconds())/1000)
		}
		if tg.what == "through the ClusterIP" {
			goal = ">= 0.95x direct throughput, p50 < +0.1 ms"
		}
		fmt.Printf("| model server GET /predict %s, %d keep-alive connections, %s | %s | %s |\n", tg.what, conns, dur, measured, goal)
	}
	idle, loaded, err := proxyRSS(ctx, p, client, skiff, 1000, 10)
	if err != nil {
		return fmt.Errorf("proxy RSS: %w", err)
	}
	fmt.Printf("| a second node's `skiff agent` (process runtime: kubelet and service proxy) RSS, no Services / 1000 Services with 10000 endpoints in its kernel rules | %.0f MB / %.0f MB | |\n", idle, loaded)
	return nil
}

// proxyRSS joins a second node with the process runtime, measures its
// agent's RSS, creates services Services without a selector, each with an
// EndpointSlice of perService endpoints, through the API, waits until the
// node's service proxy has the last one in its nftables table, and measures
// the RSS again.
func proxyRSS(ctx context.Context, p *proc, client kubernetes.Interface, skiff string, services, perService int) (idle, loaded float64, err error) {
	const node = "bench-proxy"
	agent, err := startAgent(p, skiff, "process", node)
	if err != nil {
		return 0, 0, err
	}
	defer agent.stop()
	table := proxy.TableName(node, agent.dataDir)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err == nil && n.Labels[wellknown.ServiceProxyLabel] == "true" {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("node %s's service proxy did not start in 2 minutes (agent log %s)", node, agent.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if idle, err = rss(agent.cmd.Process.Pid); err != nil {
		return 0, 0, err
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		last  string
	)
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				ip, err := createSelectorless(ctx, client, i, perService)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if i == services-1 {
					last = ip
				}
				mu.Unlock()
			}
		})
	}
	for i := range services {
		work <- i
	}
	close(work)
	wg.Wait()
	if first != nil {
		return 0, 0, first
	}
	for {
		out, err := exec.Command("nft", "list", "table", "ip", table).Output()
		if err == nil && strings.Contains(string(out), last) {
			break
		}
		if time.Now().After(deadline.Add(3 * time.Minute)) {
			return 0, 0, fmt.Errorf("ClusterIP %s of the last Service not in table %s", last, table)
		}
		time.Sleep(time.Second)
	}
	loaded, err = rss(agent.cmd.Process.Pid)
	return idle, loaded, err
}

// createSelectorless creates Service proxy-bench-i without a selector and an
// EndpointSlice of n ready endpoints for it; it returns the ClusterIP.
func createSelectorless(ctx context.Context, client kubernetes.Interface, i, n int) (string, error) {
	name := fmt.Sprintf("proxy-bench-%04d", i)
	svc, err := client.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8000)}}}}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8000), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for j := range n {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.99.%d.%d", i/25, (i%25)*10+j%10+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	if _, err := client.DiscoveryV1().EndpointSlices("default").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
		return "", err
	}
	return svc.Spec.ClusterIP, nil
}

// deployModel runs one model server pod behind a NodePort Service and
// returns the pod's IP, the ClusterIP and the node address:NodePort;
// mutate changes its container first.
func deployModel(ctx context.Context, client kubernetes.Interface, modelServer string, mutate ...func(*corev1.Container)) (podIP, clusterIP, nodeAddr string, err error) {
	labels := map[string]string{"app": "bench-model"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "bench-model"}, Spec: appsv1.DeploymentSpec{
		Replicas: new(int32(1)),
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "model", Image: "localhost/skiff/model-server:v2", Command: []string{modelServer},
				Ports: []corev1.ContainerPort{{ContainerPort: 8000}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8000)}},
					PeriodSeconds: 1}}},
		}},
	}}
	for _, m := range mutate {
		m(&dep.Spec.Template.Spec.Containers[0])
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		return "", "", "", err
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "bench-model"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Selector: labels,
		Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8000)}},
	}}
	created, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return "", "", "", err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=bench-model"})
		if err == nil && len(pods.Items) == 1 && pods.Items[0].Status.PodIP != "" {
			for _, c := range pods.Items[0].Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					podIP = pods.Items[0].Status.PodIP
				}
			}
		}
		if podIP != "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if podIP == "" {
		return "", "", "", errors.New("the model server pod was not Ready in 2 minutes")
	}
	node, err := client.CoreV1().Nodes().Get(ctx, "bench-node", metav1.GetOptions{})
	if err != nil {
		return "", "", "", err
	}
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			nodeAddr = net.JoinHostPort(a.Address, strconv.Itoa(int(created.Spec.Ports[0].NodePort)))
		}
	}
	return podIP, created.Spec.ClusterIP, nodeAddr, nil
}

// waitAnswer polls url until it answers 200.
func waitAnswer(url string, timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer in %s: %w", url, timeout, last)
}

// loadResult is what load measured.
type loadResult struct {
	rps      float64
	p50, p99 time.Duration
}

// load sends GET url over conns keep-alive connections for dur, each
// connection one request at a time, and returns the rate and latency.
func load(url string, conns int, dur time.Duration) (loadResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var (
		mu    sync.Mutex
		lat   []time.Duration
		first error
		wg    sync.WaitGroup
	)
	stop := time.Now().Add(dur)
	begin := time.Now()
	for range conns {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(stop) {
				t0 := time.Now()
				resp, err := c.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if first != nil {
		return loadResult{}, first
	}
	elapsed := time.Since(begin)
	return loadResult{rps: float64(len(lat)) / elapsed.Seconds(), p50: percentile(lat, 0.5), p99: percentile(lat, 0.99)}, nil
}

// msFine formats d in milliseconds to the microsecond.
func msFine(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }
