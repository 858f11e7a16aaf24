package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/pki"
)

// rbacFigures are one authorization mode's API figures for a user who is
// not in system:masters (whose requests the privileged-group authorizer
// allows before RBAC is asked).
type rbacFigures struct {
	createRate       float64
	createP50        time.Duration
	createP99        time.Duration
	listP50, listMax time.Duration
}

// runRBAC measures ConfigMap creates (nClients concurrent) and pod lists as
// a user bound by a RoleBinding, on a server with --authorization-mode
// Node,RBAC and on one with AlwaysAllow, in turn, rounds times each.
func runRBAC(skiff string, nConfigMaps, nClients, nPods, rounds int) error {
	modes := []string{"Node,RBAC", "AlwaysAllow"}
	results := map[string][]rbacFigures{}
	for r := 0; r < rounds; r++ {
		for _, mode := range modes {
			f, err := rbacRound(skiff, mode, nConfigMaps, nClients, nPods)
			if err != nil {
				return fmt.Errorf("%s: %w", mode, err)
			}
			results[mode] = append(results[mode], f)
		}
	}
	best := func(fs []rbacFigures) rbacFigures {
		// The median round by create rate.
		sorted := append([]rbacFigures(nil), fs...)
		for i := range sorted {
			for j := i + 1; j < len(sorted); j++ {
				if sorted[j].createRate < sorted[i].createRate {
					sorted[i], sorted[j] = sorted[j], sorted[i]
				}
			}
		}
		return sorted[len(sorted)/2]
	}
	on, off := best(results[modes[0]]), best(results[modes[1]])
	for _, m := range []struct {
		mode string
		f    rbacFigures
	}{{modes[0], on}, {modes[1], off}} {
		fmt.Printf("| --authorization-mode %s, user with a RoleBinding: create %d ConfigMaps, %d clients | %.0f/s; p50 %s, p99 %s | |\n",
			m.mode, nConfigMaps, nClients, m.f.createRate, ms(m.f.createP50), ms(m.f.createP99))
		fmt.Printf("| --authorization-mode %s, user with a RoleBinding: list %d pods (5 runs) | p50 %s, max %s | |\n",
			m.mode, nPods, ms(m.f.listP50), ms(m.f.listMax))
	}
	fmt.Printf("| RBAC on vs off (median of %d rounds) | creates %.1f%% slower, create p99 %+.1f%%, list p50 %+.1f%% | < 5 %% slower |\n",
		rounds, 100*(1-on.createRate/off.createRate),
		100*(float64(on.createP99)/float64(off.createP99)-1), 100*(float64(on.listP50)/float64(off.listP50)-1))
	return nil
}

func rbacRound(skiff, mode string, nConfigMaps, nClients, nPods int) (rbacFigures, error) {
	ctx := context.Background()
	var f rbacFigures
	p, _, err := start(skiff, "--no-controllers", "--authorization-mode", mode)
	if err != nil {
		return f, err
	}
	defer p.stop()
	admin, err := p.client()
	if err != nil {
		return f, err
	}
	const ns = "bench-rbac"
	if err := createNamespace(ctx, admin, ns); err != nil {
		return f, err
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: ns}, Rules: []rbacv1.PolicyRule{
		{Verbs: []string{"create", "get", "list"}, APIGroups: []string{""}, Resources: []string{"configmaps", "pods"}},
	}}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return f, err
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "bench"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "bench"}}}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		return f, err
	}
	user, err := userClient(p, "bench")
	if err != nil {
		return f, err
	}
	// Wait until the authorizer has seen the binding.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := user.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{Limit: 1}); err == nil {
			break
		} else if time.Now().After(deadline) {
			return f, fmt.Errorf("user not authorized: %w", err)
		}
	}
	lat, total, err := createConfigMaps(ctx, user, ns, nConfigMaps, nClients)
	if err != nil {
		return f, err
	}
	f.createRate, f.createP50, f.createP99 = float64(nConfigMaps)/total.Seconds(), percentile(lat, 0.5), percentile(lat, 0.99)
	for i := 0; i < nPods; i++ {
		_, err := admin.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", i)},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "localhost/skiff/model-server:v1"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			return f, fmt.Errorf("create pods: %w", err)
		}
	}
	var lists []time.Duration
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		if _, err := user.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err != nil {
			return f, err
		}
		lists = append(lists, time.Since(t0))
	}
	f.listP50, f.listMax = percentile(lists, 0.5), percentile(lists, 1)
	return f, nil
}

// userClient is a client of a user authenticated by a certificate the
// server's CA signs.
func userClient(p *proc, name string) (kubernetes.Interface, error) {
	ca, err := pki.LoadOrCreateCA(filepath.Join(p.dataDir, "tls"))
	if err != nil {
		return nil, err
	}
	cert, key := filepath.Join(p.dataDir, name+".crt"), filepath.Join(p.dataDir, name+".key")
	if err := ca.EnsureLeaf(cert, key, pki.Leaf{CommonName: name}); err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(p.cfg)
	cfg.TLSClientConfig.CertData, cfg.TLSClientConfig.KeyData = nil, nil
	cfg.TLSClientConfig.CertFile, cfg.TLSClientConfig.KeyFile = cert, key
	cfg.QPS, cfg.Burst = -1, 0
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	return kubernetes.NewForConfig(cfg)
}
