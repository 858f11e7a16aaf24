//go:build integration

package servicealloc_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/server/api"
	"skiff.dev/skiff/internal/storage/etcd"
	"skiff.dev/skiff/internal/testserver"
)

const prefix = "/skiff/allocations/"

// The repair loop releases a record no Service holds (a create that
// crashed after its reservation) and writes back the record of a Service
// whose record was lost (a crash in a delete, a hand edit), and records
// are held by the Service's UID.
func TestRepairHealsLeaksAndLostRecords(t *testing.T) {
	ctx := context.Background()
	e, err := etcd.Start(ctx, etcd.Config{DataDir: t.TempDir(), Fast: true, UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	kv, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kv.Close() })
	srv := testserver.Start(t, func(c *api.Config) {
		c.Etcd = etcd.ClientConfig{Endpoints: []string{e.Endpoint}}
		c.ServiceRepairInterval, c.ServiceRepairGrace = 200*time.Millisecond, 500*time.Millisecond
	})

	svc, err := srv.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ipKey := prefix + "clusterips/" + svc.Spec.ClusterIP
	portKey := prefix + "nodeports/" + strconv.Itoa(int(svc.Spec.Ports[0].NodePort))
	want := "default/web/" + string(svc.UID)
	get := func(key string) (string, error) {
		resp, err := kv.Get(ctx, key)
		if err != nil {
			return "", err
		}
		if len(resp.Kvs) == 0 {
			return "", nil
		}
		return string(resp.Kvs[0].Value), nil
	}
	for _, k := range []string{ipKey, portKey} {
		if v, err := get(k); err != nil || v != want {
			t.Fatalf("record %s = %q, %v; want %q (held by the Service's UID)", k, v, err, want)
		}
	}

	// A leak: records of a Service that was never written. A lost record:
	// the Service's ClusterIP record deleted behind its back.
	leakIP, leakPort := prefix+"clusterips/10.43.200.200", prefix+"nodeports/31999"
	for _, k := range []string{leakIP, leakPort} {
		if _, err := kv.Put(ctx, k, "default/ghost/0b5e7c1e-dead-beef-0000-000000000000"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kv.Delete(ctx, ipKey); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 20*time.Second, "leaks released and the lost record written back", func() error {
		for _, k := range []string{leakIP, leakPort} {
			if v, err := get(k); err != nil || v != "" {
				return fmt.Errorf("%s still held by %q (%v)", k, v, err)
			}
		}
		if v, err := get(ipKey); err != nil || v != want {
			return fmt.Errorf("%s = %q (%v)", ipKey, v, err)
		}
		return nil
	})
	// The released address is free again.
	if _, err := srv.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "takes-it"},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.43.200.200", Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the released ClusterIP: %v", err)
	}
}
