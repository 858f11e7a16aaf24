// Command bench measures a real `skiff server` process from the outside, as
// a user's clients see it, and prints the figures as Markdown table rows for
// BENCHMARKS.md. `make bench` runs it.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	skiff := flag.String("skiff", "build/bin/skiff", "skiff binary")
	configMaps := flag.Int("configmaps", 10000, "ConfigMaps to create")
	clients := flag.Int("clients", 32, "concurrent clients for creates")
	pods := flag.Int("pods", 10000, "pods to list")
	watchers := flag.Int("watchers", 100, "concurrent watchers")
	scenario := flag.String("scenario", "api", "api (the API server), controlplane (scheduler and controllers on hollow nodes), node (pod startup on the process and cri runtimes) services (the Service data path, cluster DNS and the service proxy) multinode (pod to pod across nodes against one node) autoscale (the HorizontalPodAutoscaler's reaction and cost) or rbac (API creates and lists by a RoleBinding's user, RBAC on vs off)")
	images := flag.String("images", "build/images", "folder of `make images`' tarballs (node scenario)")
	startupPods := flag.Int("startup-pods", 100, "pods whose startup latency is measured (node scenario)")
	modelServer := flag.String("model-server", "build/images/bin/model-server-v2", "static model-server binary the process runtime runs (services scenario)")
	conns := flag.Int("conns", 16, "concurrent keep-alive connections of the load (services scenario)")
	loadFor := flag.Duration("load-duration", 5*time.Second, "how long each load runs (services and multinode scenarios)")
	rounds := flag.Int("rounds", 7, "paired rounds of the multinode scenario, whose medians are reported")
	url := flag.String("url", "", "target of the load and wait-answer scenarios (run by multinode inside a pod's network namespace)")
	rbacRounds := flag.Int("rbac-rounds", 3, "rounds of each authorization mode in the rbac scenario, whose medians are reported")
	flag.Parse()
	var err error
	switch *scenario {
	case "api":
		err = run(*skiff, *configMaps, *clients, *pods, *watchers)
	case "controlplane":
		err = runControlPlane(*skiff, *clients)
	case "node":
		err = runNode(*skiff, *images, *startupPods)
	case "services":
		err = runServices(*skiff, *modelServer, *conns, *loadFor)
	case "multinode":
		err = runMultiNode(*skiff, *modelServer, *conns, *rounds, *loadFor)
	case "autoscale":
		err = runAutoscale(*skiff, *modelServer)
	case "rbac":
		err = runRBAC(*skiff, *configMaps, *clients, 2000, *rbacRounds)
	case "load":
		err = loadHere(*url, *conns, *loadFor)
	case "wait-answer":
		err = waitAnswer(*url, time.Minute)
	default:
		err = fmt.Errorf("unknown scenario %q", *scenario)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type proc struct {
	cmd     *exec.Cmd
	dataDir string
	cfg     *rest.Config
}

// freePort is a port free on every address: nodes listen on the host's
// address (their kubelet port), not only on loopback, so a port free on
// 127.0.0.1 alone may be taken.
func freePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start launches the server on a fresh data dir and returns once /readyz
// answers 200, with the time that took.
func start(skiff string, args ...string) (*proc, time.Duration, error) {
	dir, err := os.MkdirTemp("", "skiff-bench")
	if err != nil {
		return nil, 0, err
	}
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(skiff, append([]string{"server", "--data-dir", dir, "--port", strconv.Itoa(port), "--bind-address", "127.0.0.1"}, args...)...)
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	p := &proc{cmd: cmd, dataDir: dir}
	kubeconfig := filepath.Join(dir, "kubeconfig.yaml")
	for time.Since(begin) < 60*time.Second {
		if p.cfg == nil {
			if cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig); err == nil {
				p.cfg = cfg
			}
		}
		if p.cfg != nil {
			rt, err := rest.TransportFor(p.cfg)
			if err == nil {
				resp, err := (&http.Client{Transport: rt, Timeout: time.Second}).Get(p.cfg.Host + "/readyz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return p, time.Since(begin), nil
					}
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.stop()
	return nil, 0, fmt.Errorf("server not ready in 60s")
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	_ = os.RemoveAll(p.dataDir)
}

func (p *proc) rssMB() (float64, error) { return rss(p.cmd.Process.Pid) }

// rss is the resident set size of a process in MB.
func rss(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmRSS:") {
			kb, err := strconv.Atoi(strings.Fields(s.Text())[1])
			return float64(kb) / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

func (p *proc) client() (*kubernetes.Clientset, error) {
	cfg := rest.CopyConfig(p.cfg)
	cfg.QPS, cfg.Burst = -1, 0
	// Protobuf, as Kubernetes' own controllers and client-go programs use.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	return kubernetes.NewForConfig(cfg)
}

func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*q)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func run(skiff string, nConfigMaps, nClients, nPods, nWatchers int) error {
	ctx := context.Background()
	// Start-up, measured over a few fresh starts.
	var startups []time.Duration
	for i := 0; i < 5; i++ {
		p, took, err := start(skiff)
		if err != nil {
			return err
		}
		startups = append(startups, took)
		p.stop()
	}
	p, _, err := start(skiff)
	if err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	idle, err := p.rssMB()
	p.stop()
	if err != nil {
		return err
	}
	// The load runs on the API server alone: with no nodes, the scheduler
	// would add its own writes for every pod listed below.
	p, _, err = start(skiff, "--no-controllers")
	if err != nil {
		return err
	}
	defer p.stop()
	client, err := p.client()
	if err != nil {
		return err
	}
	for _, ns := range []string{"bench-cm", "bench-pods", "bench-watch"} {
		if err := createNamespace(ctx, client, ns); err != nil {
			return err
		}
	}

	// Creates from concurrent clients.
	lat, createTotal, err := createConfigMaps(ctx, client, "bench-cm", nConfigMaps, nClients)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var firstErr error
	var errMu sync.Mutex

	// Listing pods.
	next := make(chan int)
	for c := 0; c < nClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				_, err := client.CoreV1().Pods("bench-pods").Create(ctx, &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", i), Labels: map[string]string{"app": "ml-model"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "ml-model", Image: "localhost/skiff/model-server:v1"}}},
				}, metav1.CreateOptions{})
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < nPods; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("create pods: %w", firstErr)
	}
	var lists []time.Duration
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		l, err := client.CoreV1().Pods("bench-pods").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(l.Items) != nPods {
			return fmt.Errorf("listed %d pods, want %d", len(l.Items), nPods)
		}
		lists = append(lists, time.Since(t0))
	}

	// Watch delivery latency.
	const events = 200
	var watchLat []time.Duration
	var watchMu sync.Mutex
	var ready, done sync.WaitGroup
	watchCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for w := 0; w < nWatchers; w++ {
		wi, err := client.CoreV1().ConfigMaps("bench-watch").Watch(watchCtx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			defer wi.Stop()
			ready.Done()
			seen := 0
			for ev := range wi.ResultChan() {
				if ev.Type != watch.Added {
					continue
				}
				cm := ev.Object.(*corev1.ConfigMap)
				sent, err := strconv.ParseInt(cm.Annotations["bench/sent"], 10, 64)
				if err == nil {
					watchMu.Lock()
					watchLat = append(watchLat, time.Since(time.Unix(0, sent)))
					watchMu.Unlock()
				}
				if seen++; seen == events {
					return
				}
			}
		}()
	}
	ready.Wait()
	for i := 0; i < events; i++ {
		_, err := client.CoreV1().ConfigMaps("bench-watch").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("w-%d", i), Annotations: map[string]string{"bench/sent": strconv.FormatInt(time.Now().UnixNano(), 10)},
		}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	done.Wait()

	loaded, _ := p.rssMB()
	fmt.Printf("| start to /readyz (5 fresh starts) | p50 %s, max %s | < 1 s |\n", ms(percentile(startups, 0.5)), ms(percentile(startups, 1)))
	fmt.Printf("| idle RSS of skiff server incl. embedded etcd and controllers | %.0f MB | < 150 MB |\n", idle)
	fmt.Printf("| RSS of the API server alone after the runs below | %.0f MB | |\n", loaded)
	fmt.Printf("| create %d ConfigMaps, %d clients | %.0f/s; p50 %s, p99 %s | p99 < 20 ms |\n", nConfigMaps, nClients,
		float64(nConfigMaps)/createTotal.Seconds(), ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)))
	fmt.Printf("| list %d pods (5 runs) | p50 %s, max %s | < 300 ms |\n", nPods, ms(percentile(lists, 0.5)), ms(percentile(lists, 1)))
	fmt.Printf("| watch delivery, %d watchers x %d events | p50 %s, p99 %s | p99 < 50 ms |\n", nWatchers, events,
		ms(percentile(watchLat, 0.5)), ms(percentile(watchLat, 0.99)))
	return nil
}

// createNamespace creates ns with its default ServiceAccount, which pods
// need (ServiceAccount admission) and which no controller makes on a
// --no-controllers server.
func createNamespace(ctx context.Context, client kubernetes.Interface, ns string) error {
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// createConfigMaps creates n ConfigMaps in ns from clients concurrent
// clients and returns each create's latency and the time for all.
func createConfigMaps(ctx context.Context, client kubernetes.Interface, ns string, n, clients int) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	begin := time.Now()
	for c := 0; c < clients; c++ {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				_, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)},
					Data:       map[string]string{"model": "churn", "threshold": "0.5"},
				}, metav1.CreateOptions{})
				lat[i] = time.Since(t0)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	total := time.Since(begin)
	if firstErr != nil {
		return nil, 0, fmt.Errorf("create configmaps: %w", firstErr)
	}
	return lat, total, nil
}
