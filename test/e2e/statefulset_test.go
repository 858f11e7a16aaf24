package e2e

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

const statefulSetManifest = `apiVersion: v1
kind: Service
metadata:
  name: nginx
  namespace: sts
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - name: web
    port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  namespace: sts
spec:
  serviceName: nginx
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - name: web
          containerPort: 80
`

// podEvents records, in order, the names of the pods a watch saw added
// and deleted.
type podEvents struct {
	w    watch.Interface
	done chan struct{}
	mu   sync.Mutex
	seen map[watch.EventType][]string
}

func watchPods(t *testing.T, c kubernetes.Interface, ns, selector string) *podEvents {
	t.Helper()
	w, err := c.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	e := &podEvents{w: w, done: make(chan struct{}), seen: map[watch.EventType][]string{}}
	go func() {
		defer close(e.done)
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok {
				e.mu.Lock()
				e.seen[ev.Type] = append(e.seen[ev.Type], p.Name)
				e.mu.Unlock()
			}
		}
	}()
	t.Cleanup(e.stop)
	return e
}

func (e *podEvents) names(typ watch.EventType) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.seen[typ])
}

func (e *podEvents) stop() {
	e.w.Stop()
	<-e.done
}

// lookupA asks the cluster DNS (at the address and port of the kube-dns
// Service's endpoints) for the A records of name.
func lookupA(t *testing.T, c kubernetes.Interface, name string) ([]string, error) {
	t.Helper()
	eps, err := c.DiscoveryV1().EndpointSlices("kube-system").List(context.Background(),
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kube-dns"})
	if err != nil {
		return nil, err
	}
	var server string
	for _, sl := range eps.Items {
		for _, p := range sl.Ports {
			if p.Protocol != nil && *p.Protocol == corev1.ProtocolUDP && p.Port != nil && len(sl.Endpoints) > 0 {
				server = net.JoinHostPort(sl.Endpoints[0].Addresses[0], fmt.Sprint(*p.Port))
			}
		}
	}
	if server == "" {
		return nil, fmt.Errorf("kube-dns has no UDP endpoint yet")
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	in, err := dns.Exchange(m, server)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range in.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out, nil
}

func podImages(t *testing.T, c kubernetes.Interface, ns, selector string) map[string]string {
	out := map[string]string{}
	for _, p := range livePods(t, c, ns, selector) {
		out[p.Name] = p.Spec.Containers[0].Image
	}
	return out
}

// TestStatefulSet is issue 13's StatefulSet acceptance test, on hollow
// nodes (claims and their volumes are the storage tests'): pods start in order with stable names
// and DNS names under their headless Service, a changed image rolls back
// with kubectl rollout undo, and scaling down removes the highest ordinal
// first.
func TestStatefulSet(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--hollow-nodes", "3")
	c := s.client()
	ctx := context.Background()
	const ns, sel = "sts", "app=web"
	s.ok("create", "namespace", ns)
	events := watchPods(t, c, ns, sel)
	if r := s.kubectl(statefulSetManifest, nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	s.ok("rollout", "status", "statefulset/web", "-n", ns, "--timeout=120s")

	t.Run("pods start in order 0, 1, 2 with stable names and hostnames", func(t *testing.T) {
		eventually(t, 30*time.Second, "3 pods Running and Ready", func() bool { return readyRunning(t, c, ns, sel, 3) })
		if got := events.names(watch.Added); !slices.Equal(got, []string{"web-0", "web-1", "web-2"}) {
			t.Errorf("pods created in the order %v, want web-0, web-1, web-2", got)
		}
		pods := map[string]corev1.Pod{}
		for _, p := range livePods(t, c, ns, sel) {
			pods[p.Name] = p
			if p.Spec.Hostname != p.Name || p.Spec.Subdomain != "nginx" {
				t.Errorf("pod %s: hostname %q subdomain %q, want %q and nginx", p.Name, p.Spec.Hostname, p.Spec.Subdomain, p.Name)
			}
		}
		// OrderedReady: each pod is created once the one before is Ready.
		for i := 1; i < 3; i++ {
			prev, next := pods[fmt.Sprintf("web-%d", i-1)], pods[fmt.Sprintf("web-%d", i)]
			for _, cond := range prev.Status.Conditions {
				if cond.Type == corev1.PodReady && next.CreationTimestamp.Before(&cond.LastTransitionTime) {
					t.Errorf("%s created at %s, before %s was Ready at %s", next.Name, next.CreationTimestamp, prev.Name, cond.LastTransitionTime)
				}
			}
		}
		if out := s.ok("get", "statefulset", "web", "-n", ns); !regexp.MustCompile(`(?m)^web\s+3/3\s+`).MatchString(out) {
			t.Errorf("kubectl get statefulset:\n%s", out)
		}
	})

	t.Run("the headless Service names each pod in DNS", func(t *testing.T) {
		pod, err := c.CoreV1().Pods(ns).Get(ctx, "web-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = poll(100*time.Millisecond, 30*time.Second, func() error {
			got, err := lookupA(t, c, "web-1.nginx.sts.svc.cluster.local")
			if err == nil && !slices.Equal(got, []string{pod.Status.PodIP}) {
				err = fmt.Errorf("A %v, want web-1's %s", got, pod.Status.PodIP)
			}
			return err
		})
		if err != nil {
			t.Errorf("web-1.nginx.sts.svc.cluster.local: %v", err)
		}
	})

	t.Run("rollout undo after a changed image", func(t *testing.T) {
		s.ok("set", "image", "statefulset/web", "nginx=nginx:1.26", "-n", ns)
		s.ok("rollout", "status", "statefulset/web", "-n", ns, "--timeout=120s")
		eventually(t, 30*time.Second, "3 pods of nginx:1.26", func() bool {
			imgs := podImages(t, c, ns, sel)
			return len(imgs) == 3 && imgs["web-0"] == "nginx:1.26" && imgs["web-1"] == "nginx:1.26" && imgs["web-2"] == "nginx:1.26"
		})
		if out := s.ok("rollout", "history", "statefulset/web", "-n", ns); !regexp.MustCompile(`(?m)^REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>`).MatchString(out) {
			t.Errorf("rollout history:\n%s", out)
		}
		if out := s.ok("get", "controllerrevisions", "-n", ns); len(regexp.MustCompile(`(?m)^web-[a-z0-9]+\s+statefulset.apps/web\s+[12]\s+`).FindAllString(out, -1)) != 2 {
			t.Errorf("kubectl get controllerrevisions:\n%s", out)
		}
		// kubectl warns, as against any cluster, that undo does not update
		// the last-applied annotation of an applied set.
		if r := s.kubectl("", nil, "rollout", "undo", "statefulset/web", "-n", ns); r.Code != 0 || !strings.Contains(r.Stdout, "statefulset.apps/web rolled back") {
			t.Fatalf("kubectl rollout undo: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		s.ok("rollout", "status", "statefulset/web", "-n", ns, "--timeout=120s")
		eventually(t, 30*time.Second, "3 pods of nginx:1.25 again", func() bool {
			imgs := podImages(t, c, ns, sel)
			return len(imgs) == 3 && imgs["web-0"] == "nginx:1.25" && imgs["web-1"] == "nginx:1.25" && imgs["web-2"] == "nginx:1.25" &&
				readyRunning(t, c, ns, sel, 3)
		})
		if out := s.ok("rollout", "history", "statefulset/web", "-n", ns); !regexp.MustCompile(`(?m)^2\s+<none>\n3\s+<none>`).MatchString(out) {
			t.Errorf("rollout history after undo:\n%s", out)
		}
	})

	t.Run("scale down removes the highest ordinal first", func(t *testing.T) {
		deletes := watchPods(t, c, ns, sel)
		s.ok("scale", "statefulset/web", "--replicas=1", "-n", ns)
		eventually(t, 60*time.Second, "web-2 and web-1 deleted", func() bool {
			return len(deletes.names(watch.Deleted)) == 2
		})
		if got := deletes.names(watch.Deleted); !slices.Equal(got, []string{"web-2", "web-1"}) {
			t.Errorf("pods deleted in the order %v, want web-2, web-1", got)
		}
		s.ok("rollout", "status", "statefulset/web", "-n", ns, "--timeout=60s")
		if names := podImages(t, c, ns, sel); len(names) != 1 || names["web-0"] == "" {
			t.Errorf("pods left: %v, want web-0", names)
		}
	})
}
