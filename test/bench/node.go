package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// runNode measures pod startup on real runtimes: a `skiff agent` process
// with the process or the cri runtime joins a server that runs no node of
// its own; nPods pods are created one every interval (through the
// scheduler) and the time from create to Running and to Ready is recorded
// for each, then the agent's RSS with all of them running.
func runNode(skiff, images string, nPods int) error {
	for _, rt := range runtimesToBench() {
		if rt == "cri" {
			if _, err := exec.LookPath("containerd"); err != nil {
				fmt.Printf("| cri runtime | not measured: containerd is not installed | |\n")
				continue
			}
		}
		interval := 100 * time.Millisecond
		if rt == "cri" {
			// containerd's sandbox setup takes ~0.4 s of the 2 cores (see
			// shared/notes): create at a rate it can sustain.
			interval = 500 * time.Millisecond
		}
		running, ready, rss, err := podStartup(skiff, images, rt, nPods, interval)
		if err != nil {
			return fmt.Errorf("%s runtime: %w", rt, err)
		}
		goal := "p99 < 100 ms"
		if rt == "cri" {
			goal = "p99 < 1 s"
		}
		fmt.Printf("| %s runtime: create → Running, %d pods created one per %s | p50 %s, p99 %s | %s |\n",
			rt, nPods, interval, ms(percentile(running, 0.5)), ms(percentile(running, 0.99)), goal)
		fmt.Printf("| %s runtime: create → Ready (no readiness probe) | p50 %s, p99 %s | |\n",
			rt, ms(percentile(ready, 0.5)), ms(percentile(ready, 0.99)))
		fmt.Printf("| %s runtime: agent RSS with %d pods running | %.0f MB | |\n", rt, nPods, rss)
	}
	return nil
}

func podStartup(skiff, images, rt string, nPods int, interval time.Duration) (running, ready []time.Duration, rssMB float64, err error) {
	p, _, err := start(skiff, "--disable-agent")
	if err != nil {
		return nil, nil, 0, err
	}
	defer p.stop()
	client, err := p.client()
	if err != nil {
		return nil, nil, 0, err
	}
	node := "bench-" + rt
	agent, err := startAgent(p, skiff, rt, node, "--pause-image", filepath.Join(images, "pause.tar"))
	if err != nil {
		return nil, nil, 0, err
	}
	defer agent.stop()
	ctx := context.Background()
	if err := waitNodes(ctx, client, 1); err != nil {
		return nil, nil, 0, err
	}
	container := corev1.Container{Name: "c", Image: "localhost/skiff/pause:3.10"}
	if rt == "process" {
		container.Command = []string{"sleep", "infinity"}
	}
	const ns = "default"
	times := newStartTimes()
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "bench=startup"})
	if err != nil {
		return nil, nil, 0, err
	}
	defer w.Stop()
	go times.observe(w)
	for i := 0; i < nPods; i++ {
		name := fmt.Sprintf("startup-%03d", i)
		times.created(name)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "startup"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{container}, NodeSelector: map[string]string{"kubernetes.io/hostname": node}}}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return nil, nil, 0, err
		}
		time.Sleep(interval)
	}
	if err := times.wait(nPods, 5*time.Minute); err != nil {
		return nil, nil, 0, fmt.Errorf("%w (agent log %s)", err, agent.log)
	}
	rssMB, err = rss(agent.cmd.Process.Pid)
	if err != nil {
		return nil, nil, 0, err
	}
	if err := deletePods(ctx, client, ns); err != nil {
		return nil, nil, 0, err
	}
	running, ready = times.durations()
	return running, ready, rssMB, nil
}

// startTimes records, per pod, when it was created and when the watch first
// saw it Running and Ready.
type startTimes struct {
	mu                      sync.Mutex
	createdAt, running, rdy map[string]time.Time
}

func newStartTimes() *startTimes {
	return &startTimes{createdAt: map[string]time.Time{}, running: map[string]time.Time{}, rdy: map[string]time.Time{}}
}

func (s *startTimes) created(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.createdAt[name] = time.Now()
}

func (s *startTimes) observe(w watch.Interface) {
	for ev := range w.ResultChan() {
		pod, ok := ev.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		now := time.Now()
		s.mu.Lock()
		if _, seen := s.running[pod.Name]; !seen && pod.Status.Phase == corev1.PodRunning {
			s.running[pod.Name] = now
		}
		for _, c := range pod.Status.Conditions {
			if _, seen := s.rdy[pod.Name]; !seen && c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				s.rdy[pod.Name] = now
			}
		}
		s.mu.Unlock()
	}
}

func (s *startTimes) wait(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		done := len(s.rdy) >= n && len(s.running) >= n
		s.mu.Unlock()
		if done {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Errorf("only %d of %d pods Running, %d Ready after %s", len(s.running), n, len(s.rdy), timeout)
}

func (s *startTimes) durations() (running, ready []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, c := range s.createdAt {
		running = append(running, s.running[name].Sub(c))
		ready = append(ready, s.rdy[name].Sub(c))
	}
	return running, ready
}

func deletePods(ctx context.Context, client kubernetes.Interface, ns string) error {
	if err := client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "bench=startup"}); err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "bench=startup"})
		if err == nil && len(list.Items) == 0 {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("pods not deleted in 3 minutes")
}

// runtimesToBench is process and cri, or what SKIFF_BENCH_RUNTIMES says.
func runtimesToBench() []string {
	if v := os.Getenv("SKIFF_BENCH_RUNTIMES"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"process", "cri"}
}

// benchAgent is a `skiff agent` process joined to a benchmark's server.
type benchAgent struct {
	cmd     *exec.Cmd
	dataDir string
	log     string // path of its output
}

// startAgent joins a `skiff agent` with runtime rt as node to p's server.
func startAgent(p *proc, skiff, rt, node string, extraArgs ...string) (*benchAgent, error) {
	token, err := os.ReadFile(filepath.Join(p.dataDir, "token"))
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "skiff-bench-agent")
	if err != nil {
		return nil, err
	}
	kport, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(skiff, append([]string{"agent", "--server", p.cfg.Host, "--token", strings.TrimSpace(string(token)),
		"--data-dir", dir, "--node-name", node, "--runtime", rt, "--kubelet-port", strconv.Itoa(kport)}, extraArgs...)...)
	logPath := filepath.Join(dir, "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &benchAgent{cmd: cmd, dataDir: dir, log: logPath}, nil
}

// stop ends the agent with SIGTERM (SIGKILL after a minute) and removes its
// data dir.
func (a *benchAgent) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = a.cmd.Process.Kill()
		<-done
	}
	_ = os.RemoveAll(a.dataDir)
}
