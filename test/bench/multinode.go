package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// runMultiNode measures pod-to-pod traffic across nodes against the same on
// one node: a server and two agents, each agent in a network namespace of
// its own on a LAN bridge (host-gw routes between them); the load runs in
// a client pod's network namespace on the first agent, to a model server
// pod on the same agent and to one on the other, by pod IP and through a
// ClusterIP.
func runMultiNode(skiff, modelServer string, conns, rounds int, dur time.Duration) (err error) {
	modelServer, err = filepath.Abs(modelServer)
	if err != nil {
		return err
	}
	prefix := fmt.Sprintf("192.168.%d.", 100+rand.IntN(100))
	bridge := fmt.Sprintf("skbench%04x", rand.IntN(1<<16))
	nets := []string{bridge + "-11", bridge + "-12"}
	defer func() {
		for _, ns := range nets {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
		_ = exec.Command("ip", "link", "del", bridge).Run()
	}()
	cmds := [][]string{
		{"link", "add", bridge, "type", "bridge"}, {"addr", "add", prefix + "1/24", "dev", bridge}, {"link", "set", bridge, "up"},
	}
	for i, ns := range nets {
		host, veth := strconv.Itoa(11+i), fmt.Sprintf("%sv%d", bridge, i)
		cmds = append(cmds, []string{"netns", "add", ns},
			[]string{"link", "add", veth, "type", "veth", "peer", "name", "lan0", "netns", ns},
			[]string{"link", "set", veth, "master", bridge, "up"},
			[]string{"-n", ns, "link", "set", "lo", "up"},
			[]string{"-n", ns, "addr", "add", prefix + host + "/24", "dev", "lan0"},
			[]string{"-n", ns, "link", "set", "lan0", "up"},
			[]string{"-n", ns, "route", "add", "default", "via", prefix + "1"})
	}
	for _, c := range cmds {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	kport, err := freePort()
	if err != nil {
		return err
	}
	p, _, err := start(skiff, "--runtime", "process", "--node-name", "bench-server", "--kubelet-port", strconv.Itoa(kport),
		"--bind-address", "0.0.0.0", "--advertise-address", prefix+"1", "--node-ip", prefix+"1",
		"--cluster-cidr", "10.124.0.0/16", "--cluster-dns-port", "0")
	if err != nil {
		return err
	}
	defer p.stop()
	token, err := os.ReadFile(filepath.Join(p.dataDir, "token"))
	if err != nil {
		return err
	}
	port := strings.TrimPrefix(p.cfg.Host[strings.LastIndex(p.cfg.Host, ":"):], ":")
	for i, ns := range nets {
		dir, err := os.MkdirTemp("", "skiff-bench-agent")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command("nsenter", "--net=/run/netns/"+ns, "--", skiff, "agent", "--server", "https://"+prefix+"1:"+port,
			"--token", strings.TrimSpace(string(token)), "--data-dir", dir, "--node-name", fmt.Sprintf("bench-%d", i),
			"--node-ip", prefix+strconv.Itoa(11+i), "--runtime", "process")
		if err := cmd.Start(); err != nil {
			return err
		}
		defer func() {
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		}()
	}
	client, err := p.client()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := waitNodes(ctx, client, 3); err != nil {
		return err
	}
	ips := map[string]string{}
	for name, node := range map[string]string{"client": "bench-0", "near": "bench-0", "far": "bench-1"} {
		cmd := []string{modelServer}
		if name == "client" {
			cmd = []string{"/bin/sleep", "3600"}
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}}, Spec: corev1.PodSpec{
			NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "localhost/skiff/model-server:v2", Command: cmd}}}}
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return err
		}
		if name != "client" {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name},
				Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8000)}}}}
			if svc, err = client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
				return err
			}
			ips[name+"-svc"] = svc.Spec.ClusterIP
		}
	}
	if err := waitPodIPs(ctx, client, ips, "client", "near", "far"); err != nil {
		return err
	}
	podNS, err := netnsOf(ips["client"])
	if err != nil {
		return err
	}
	targets := []struct{ what, addr string }{
		{"by pod IP, same node", net.JoinHostPort(ips["near"], "8000")},
		{"by pod IP, other node (host-gw)", net.JoinHostPort(ips["far"], "8000")},
		{"through the ClusterIP, endpoint on the same node", net.JoinHostPort(ips["near-svc"], "80")},
		{"through the ClusterIP, endpoint on the other node (host-gw)", net.JoinHostPort(ips["far-svc"], "80")},
	}
	// Each pair (same node, other node) runs back to back, rounds times,
	// in alternating order: everything shares the machine's cores, so a
	// slow moment hits both halves of a pair and the ratio of each pair is
	// steadier than the ratio of two single runs. The medians are reported.
	for pair := 0; pair < len(targets); pair += 2 {
		var near, far []loadResult
		var ratios []float64
		for round := 0; round < rounds; round++ {
			order := []int{pair, pair + 1}
			if round%2 == 1 {
				order = []int{pair + 1, pair}
			}
			got := map[int]loadResult{}
			for _, i := range order {
				r, err := loadIn(podNS, "http://"+targets[i].addr+"/predict?input=bench", conns, dur)
				if err != nil {
					return fmt.Errorf("%s: %w", targets[i].what, err)
				}
				got[i] = r
			}
			near, far = append(near, got[pair]), append(far, got[pair+1])
			ratios = append(ratios, got[pair+1].rps/got[pair].rps)
		}
		for k, rs := range [][]loadResult{near, far} {
			r := medianResult(rs)
			measured, goal := fmt.Sprintf("%.0f req/s; p50 %s, p99 %s", r.rps, msFine(r.p50), msFine(r.p99)), ""
			if k == 1 {
				sort.Float64s(ratios)
				measured += fmt.Sprintf(" (%.2fx same-node throughput: median of %d paired rounds, range %.2fx-%.2fx)",
					ratios[len(ratios)/2], rounds, ratios[0], ratios[len(ratios)-1])
				goal = ">= 0.9x same-node throughput"
			}
			fmt.Printf("| pod to pod: model server GET /predict %s, from a pod, %d keep-alive connections, %s x %d rounds (medians) | %s | %s |\n",
				targets[pair+k].what, conns, dur, rounds, measured, goal)
		}
	}
	return nil
}

// medianResult is the run of median throughput, with its latencies.
func medianResult(rs []loadResult) loadResult {
	sorted := append([]loadResult(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].rps < sorted[j].rps })
	return sorted[len(sorted)/2]
}

// waitPodIPs waits until the named pods run and records their IPs.
func waitPodIPs(ctx context.Context, client kubernetes.Interface, ips map[string]string, names ...string) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			pod, err := client.CoreV1().Pods("default").Get(ctx, n, metav1.GetOptions{})
			if err != nil || pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" {
				return false, nil
			}
			ips[n] = pod.Status.PodIP
		}
		return true, nil
	})
}

// netnsOf finds the process runtime's network namespace (/run/netns/skiff-*)
// that holds ip.
func netnsOf(ip string) (string, error) {
	paths, _ := filepath.Glob("/run/netns/skiff-*")
	for _, p := range paths {
		out, err := exec.Command("nsenter", "--net="+p, "--", "ip", "-4", "-o", "addr").Output()
		if err == nil && strings.Contains(string(out), " "+ip+"/") {
			return p, nil
		}
	}
	return "", fmt.Errorf("no pod network namespace holds %s", ip)
}

// loadIn runs load in network namespace ns: this program again, as
// `--scenario load`, under nsenter.
func loadIn(ns, url string, conns int, dur time.Duration) (loadResult, error) {
	self, err := os.Executable()
	if err != nil {
		return loadResult{}, err
	}
	if err := exec.Command("nsenter", "--net="+ns, "--", self, "--scenario", "wait-answer", "--url", url).Run(); err != nil {
		return loadResult{}, fmt.Errorf("%s does not answer from %s: %w", url, ns, err)
	}
	out, err := exec.Command("nsenter", "--net="+ns, "--", self, "--scenario", "load", "--url", url,
		"--conns", strconv.Itoa(conns), "--load-duration", dur.String()).Output()
	if err != nil {
		return loadResult{}, fmt.Errorf("load from %s: %w", ns, err)
	}
	var r struct{ RPS, P50, P99 float64 }
	if err := json.Unmarshal(out, &r); err != nil {
		return loadResult{}, fmt.Errorf("load from %s: %w: %s", ns, err, out)
	}
	return loadResult{rps: r.RPS, p50: time.Duration(r.P50), p99: time.Duration(r.P99)}, nil
}

// loadHere is `--scenario load`: load on url, the result as JSON.
func loadHere(url string, conns int, dur time.Duration) error {
	r, err := load(url, conns, dur)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]float64{"RPS": r.rps, "P50": float64(r.p50), "P99": float64(r.p99)})
}
