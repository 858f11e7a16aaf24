package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// runControlPlane measures the scheduler and the controllers on hollow
// nodes: pods bound per second with 100 and 1,000 nodes and 10,000 pods, and
// the time from `kubectl scale --replicas=1000` to 1,000 pods Running on 100
// nodes.
func runControlPlane(skiff string, nClients int) error {
	for _, nodes := range []int{100, 1000} {
		rate, createRate, err := schedulingThroughput(skiff, nodes, 10000, nClients)
		if err != nil {
			return fmt.Errorf("scheduling with %d nodes: %w", nodes, err)
		}
		fmt.Printf("| scheduling: 10000 pods on %d hollow nodes | %.0f pods bound/s (pods created at %.0f/s by %d clients) | >= 1000/s |\n",
			nodes, rate, createRate, nClients)
	}
	took, err := scaleTo(skiff, 100, 1000)
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	fmt.Printf("| `kubectl scale --replicas=1000` to 1000 pods Running, 100 hollow nodes | %.1f s | < 10 s |\n", took.Seconds())
	return nil
}

// waitNodes waits until n nodes are Ready.
func waitNodes(ctx context.Context, client kubernetes.Interface, n int) error {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err == nil {
			ready := 0
			for _, node := range list.Items {
				for _, c := range node.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
			if ready >= n {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%d nodes not Ready in 3 minutes", n)
}

func benchPod(i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", i), Labels: map[string]string{"app": "bench"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "model", Image: "localhost/skiff/model-server:v1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resourceMust("10m"), corev1.ResourceMemory: resourceMust("16Mi"),
			}},
		}}},
	}
}

// schedulingThroughput creates nPods pods from nClients clients and measures
// how fast the scheduler binds them, from the first bind to the last.
func schedulingThroughput(skiff string, nodes, nPods, nClients int) (bound, created float64, err error) {
	ctx := context.Background()
	p, _, err := start(skiff, "--hollow-nodes", fmt.Sprint(nodes))
	if err != nil {
		return 0, 0, err
	}
	defer p.stop()
	client, err := p.client()
	if err != nil {
		return 0, 0, err
	}
	if err := waitNodes(ctx, client, nodes); err != nil {
		return 0, 0, err
	}
	// An informer, not a bare watch: the server may end a watch that falls
	// behind under this load, and the informer resumes it.
	var mu sync.Mutex
	var first, last time.Time
	seen := map[string]bool{}
	done := make(chan struct{})
	record := func(obj interface{}) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Spec.NodeName == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[pod.Name] {
			return
		}
		seen[pod.Name] = true
		now := time.Now()
		if len(seen) == 1 {
			first = now
		}
		if len(seen) == nPods {
			last = now
			close(done)
		}
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    record,
		UpdateFunc: func(_, obj interface{}) { record(obj) },
	}); err != nil {
		return 0, 0, err
	}
	stop := make(chan struct{})
	defer func() { close(stop); factory.Shutdown() }()
	factory.Start(stop)
	cache.WaitForCacheSync(stop, inf.HasSynced)
	begin := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	var errOnce sync.Once
	var createErr error
	for c := 0; c < nClients; c++ {
		wg.Go(func() {
			for i := range next {
				if _, err := client.CoreV1().Pods("default").Create(ctx, benchPod(i), metav1.CreateOptions{}); err != nil {
					errOnce.Do(func() { createErr = err })
				}
			}
		})
	}
	for i := 0; i < nPods; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	createTook := time.Since(begin)
	if createErr != nil {
		return 0, 0, createErr
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		return 0, 0, fmt.Errorf("not all %d pods bound in 5 minutes", nPods)
	}
	return float64(nPods-1) / last.Sub(first).Seconds(), float64(nPods) / createTook.Seconds(), nil
}

// scaleTo creates a one-replica deployment on nodes hollow nodes, then times
// `kubectl scale --replicas=replicas` until that many pods run.
func scaleTo(skiff string, nodes, replicas int) (time.Duration, error) {
	ctx := context.Background()
	p, _, err := start(skiff, "--hollow-nodes", fmt.Sprint(nodes))
	if err != nil {
		return 0, err
	}
	defer p.stop()
	client, err := p.client()
	if err != nil {
		return 0, err
	}
	if err := waitNodes(ctx, client, nodes); err != nil {
		return 0, err
	}
	labels := map[string]string{"app": "scale"}
	tmpl := benchPod(0)
	tmpl.Name, tmpl.Labels = "", labels
	_, err = client.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "scale"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return 0, err
	}
	running := func() (int, error) {
		list, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=scale", ResourceVersion: "0"})
		if err != nil {
			return 0, err
		}
		n := 0
		for _, pod := range list.Items {
			if pod.Status.Phase == corev1.PodRunning {
				n++
			}
		}
		return n, nil
	}
	for deadline := time.Now().Add(time.Minute); ; {
		if n, err := running(); err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("first replica not running")
		}
		time.Sleep(100 * time.Millisecond)
	}
	kubectl := filepath.Join(filepath.Dir(skiff), "kubectl")
	begin := time.Now()
	cmd := exec.Command(kubectl, "scale", "deployment/scale", fmt.Sprintf("--replicas=%d", replicas))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(p.dataDir, "kubeconfig.yaml"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("kubectl scale: %v: %s", err, out)
	}
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); {
		if n, err := running(); err == nil && n >= replicas {
			return time.Since(begin), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, fmt.Errorf("%d pods not running in 5 minutes", replicas)
}

func resourceMust(s string) resource.Quantity { return resource.MustParse(s) }
