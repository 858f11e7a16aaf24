package hollow

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"skiff.dev/skiff/internal/agent/kubeletserver"
)

// statsServer is the kubelet stats routes of every hollow node: one
// listener per node on its InternalIP and one handler that picks the node
// by the address a request came in on.
type statsServer struct {
	srv       *http.Server
	listeners []net.Listener
}

// listenStats opens the nodes' stats listeners (KubeletPort, or a free
// port where that is taken) and records each node's port. Nodes whose
// address cannot be listened on (not an address of this host) serve
// nothing; that is logged once.
func (c *Cluster) listenStats(ctx context.Context) (*statsServer, error) {
	byIP := make(map[string]*node, len(c.order))
	ips := make([]string, 0, len(c.order))
	for _, n := range c.order {
		byIP[n.ip] = n
		ips = append(ips, n.ip)
	}
	newCert := c.opts.ServingCertificate
	if newCert == nil {
		newCert = kubeletserver.SelfSignedCert
	}
	cert, err := newCert(ips)
	if err != nil {
		return nil, fmt.Errorf("hollow: stats server certificate: %w", err)
	}
	auth, err := kubeletserver.NewAuth(ctx, kubeletserver.AuthConfig{Client: c.client, ClientCA: c.opts.ClientCA, Logger: c.opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("hollow: %w", err)
	}
	handler := kubeletserver.NewStatsHandler(kubeletserver.StatsHandlerConfig{
		Auth:   auth,
		Logger: c.opts.Logger,
		Node: func(r *http.Request) (string, kubeletserver.StatsProvider) {
			addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
			if !ok {
				return "", nil
			}
			host, _, err := net.SplitHostPort(addr.String())
			if err != nil {
				return "", nil
			}
			if n := byIP[host]; n != nil {
				return n.name, nodeStats{c: c, n: n}
			}
			return "", nil
		},
	})
	s := &statsServer{srv: &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 30 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequestClientCert, // checked by the handler
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"http/1.1"},
		},
	}}
	var failed int
	var firstErr error
	for _, n := range c.order {
		l, err := net.Listen("tcp", net.JoinHostPort(n.ip, strconv.Itoa(c.opts.KubeletPort)))
		if err != nil {
			l, err = net.Listen("tcp", net.JoinHostPort(n.ip, "0"))
		}
		if err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		n.port = l.Addr().(*net.TCPAddr).Port
		s.listeners = append(s.listeners, l)
	}
	if failed > 0 {
		c.opts.Logger.Warn("hollow nodes: cannot listen on some node addresses, their stats are not served", "nodes", failed, "err", firstErr)
	}
	return s, nil
}

// serve serves until ctx ends.
func (s *statsServer) serve(ctx context.Context) {
	s.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	for _, l := range s.listeners {
		// Serve returns when Close closes the listeners.
		go func() { _ = s.srv.Serve(tls.NewListener(l, s.srv.TLSConfig)) }()
	}
	<-ctx.Done()
	_ = s.srv.Close()
}

// errNodeStopped answers a scrape of a node that Stop stopped.
var errNodeStopped = apierrors.NewServiceUnavailable("the node is stopped")

// nodeStats is one node's kubeletserver.StatsProvider.
type nodeStats struct {
	c *Cluster
	n *node
}

// Summary reports the node's running pods with their simulated usage, and
// the node as their sum (its CPU time a counter growing at the sum of the
// pods' rates, advanced at each scrape). A stopped node answers 503.
func (s nodeStats) Summary(context.Context) (*statsapi.Summary, error) {
	if !s.n.active() {
		return nil, errNodeStopped
	}
	now := s.c.opts.Clock.Now()
	sum := &statsapi.Summary{Node: statsapi.NodeStats{NodeName: s.n.name}}
	var nodeRate, nodeMem uint64
	objs, _ := s.c.podIndexer.ByIndex(nodeNameIndex, s.n.name)
	for _, obj := range objs {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			continue
		}
		key, err := cache.MetaNamespaceKeyFunc(pod)
		if err != nil {
			continue
		}
		s.c.mu.Lock()
		r := s.c.runs[key]
		s.c.mu.Unlock()
		if r == nil || r.uid != pod.UID {
			continue
		}
		ctrs, cpuNanos, rate, mem := r.usage.stats(now)
		if len(ctrs) == 0 {
			continue
		}
		t := metav1.NewTime(now)
		sum.Pods = append(sum.Pods, statsapi.PodStats{
			PodRef:     statsapi.PodReference{Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID)},
			StartTime:  metav1.NewTime(r.start),
			Containers: ctrs,
			CPU:        &statsapi.CPUStats{Time: t, UsageCoreNanoSeconds: &cpuNanos, UsageNanoCores: &rate},
			Memory:     &statsapi.MemoryStats{Time: t, WorkingSetBytes: &mem, UsageBytes: &mem},
		})
		nodeRate += rate
		nodeMem += mem
	}
	slices.SortFunc(sum.Pods, func(a, b statsapi.PodStats) int {
		return strings.Compare(a.PodRef.Namespace+"/"+a.PodRef.Name, b.PodRef.Namespace+"/"+b.PodRef.Name)
	})
	s.n.mu.Lock()
	s.n.cpu.setRate(now, nodeRate)
	used := uint64(s.n.cpu.nanos)
	sum.Node.StartTime = metav1.NewTime(s.n.started)
	s.n.mu.Unlock()
	t := metav1.NewTime(now)
	sum.Node.CPU = &statsapi.CPUStats{Time: t, UsageCoreNanoSeconds: &used, UsageNanoCores: &nodeRate}
	sum.Node.Memory = &statsapi.MemoryStats{Time: t, WorkingSetBytes: &nodeMem, UsageBytes: &nodeMem}
	return sum, nil
}
