//go:build integration

package controllermanager_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/controllermanager"
	"skiff.dev/skiff/internal/testserver"
	"skiff.dev/skiff/internal/wellknown"
)

// TestServiceAccountControllers: every namespace, new or old, gets the
// default ServiceAccount and the kube-root-ca.crt ConfigMap, and both come
// back when deleted.
func TestServiceAccountControllers(t *testing.T) {
	srv := testserver.Start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	caFile := filepath.Join(srv.DataDir, "tls", "ca.crt")
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(done)
		_ = controllermanager.Run(ctx, controllermanager.Config{RestConfig: srv.Config, Identity: "test", RootCAFile: caFile, DisableServiceLB: true})
	}()
	if _, err := srv.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	check := func(ns string) func() error {
		return func() error {
			if _, err := srv.Client.CoreV1().ServiceAccounts(ns).Get(ctx, wellknown.DefaultServiceAccountName, metav1.GetOptions{}); err != nil {
				return err
			}
			cm, err := srv.Client.CoreV1().ConfigMaps(ns).Get(ctx, wellknown.RootCAConfigMapName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cm.Data[wellknown.RootCAKey] != string(ca) {
				return fmt.Errorf("%s holds %q, want the cluster CA", wellknown.RootCAKey, cm.Data[wellknown.RootCAKey])
			}
			return nil
		}
	}
	for _, ns := range []string{"default", "kube-system", "team-a"} {
		testserver.Poll(t, 30*time.Second, "service account and root CA in "+ns, check(ns))
	}
	if err := srv.Client.CoreV1().ServiceAccounts("team-a").Delete(ctx, wellknown.DefaultServiceAccountName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Client.CoreV1().ConfigMaps("team-a").Delete(ctx, wellknown.RootCAConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "service account and root CA recreated in team-a", check("team-a"))
}
