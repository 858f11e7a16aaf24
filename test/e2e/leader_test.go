package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestLeaderFailover is issue 3's fifth acceptance test: two servers on one
// external etcd run one set of controllers; when the leader dies the other
// takes over and the deployment still heals.
func TestLeaderFailover(t *testing.T) {
	t.Parallel()
	etcd := startEtcd(t)
	first := startServer(t, etcd.flags()...)
	ctx := context.Background()
	holder := func(s *server, lease string) string {
		l, err := s.client().CoordinationV1().Leases("kube-system").Get(ctx, lease, metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	eventually(t, 30*time.Second, "the first server leading", func() bool {
		return holder(first, "kube-controller-manager") != "" && holder(first, "kube-scheduler") != ""
	})
	leader := holder(first, "kube-controller-manager")

	// The second server shares the cluster's CA (and so its kubeconfig and
	// join token) and brings the nodes.
	second := &server{t: t, dataDir: t.TempDir(), port: freePort(t), args: append([]string{"--disable-agent", "--hollow-nodes", "3", "--cluster-dns-port", fmt.Sprint(freeDNSPort(t))}, etcd.flags()...)}
	copyDir(t, filepath.Join(first.dataDir, "tls"), filepath.Join(second.dataDir, "tls"), "ca.crt", "ca.key")
	// Servers on one etcd encrypt with the same keys.
	copyDir(t, first.dataDir, second.dataDir, "encryption-config.yaml")
	second.start()
	t.Cleanup(second.stop)
	c := second.client()

	deploySeed(t, second)
	sel := "app=ml-model"
	eventually(t, 60*time.Second, "3 pods Ready", func() bool { return readyRunning(t, c, seedNS, sel, 3) })
	if got := holder(second, "kube-controller-manager"); got != leader {
		t.Fatalf("leader changed to %q before the kill", got)
	}

	first.kill()
	eventually(t, 60*time.Second, "the second server leading", func() bool {
		h1, h2 := holder(second, "kube-controller-manager"), holder(second, "kube-scheduler")
		return h1 != "" && h1 != leader && h2 != "" && h2 != leader
	})
	victim := livePods(t, c, seedNS, sel)[0].Name
	second.ok("delete", "pod", victim, "-n", seedNS)
	eventually(t, 60*time.Second, "the deleted pod replaced", func() bool {
		if !readyRunning(t, c, seedNS, sel, 3) {
			return false
		}
		for _, p := range livePods(t, c, seedNS, sel) {
			if p.Name == victim {
				return false
			}
		}
		return true
	})
}

// copyDir copies the named files from one directory into another.
func copyDir(t *testing.T, from, to string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(from, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
