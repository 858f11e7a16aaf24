package servicealloc

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/storage/etcd"
)

func newAllocator(t *testing.T, cidr string, minPort, maxPort int) *Allocator {
	t.Helper()
	ctx := context.Background()
	e, err := etcd.Start(ctx, etcd.Config{DataDir: t.TempDir(), Fast: true, UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	a, err := New(Config{Client: c, ServiceCIDR: netip.MustParsePrefix(cidr), NodePortMin: minPort, NodePortMax: maxPort})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func service(name string, typ corev1.ServiceType, ports ...int32) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: corev1.ServiceSpec{Type: typ}}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Port: p, Protocol: corev1.ProtocolTCP})
	}
	return svc
}

// Concurrent creates never get the same ClusterIP or NodePort.
func TestConcurrentCreatesGetDistinctValues(t *testing.T) {
	a := newAllocator(t, "10.43.0.0/24", 30000, 30099)
	const n = 60
	var wg sync.WaitGroup
	results := make([]*corev1.Service, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			svc := service(fmt.Sprintf("svc-%d", i), corev1.ServiceTypeNodePort, 80)
			finish, err := a.beginCreate(context.Background(), svc, &metav1.CreateOptions{})
			if err == nil {
				finish(context.Background(), true)
			}
			results[i], errs[i] = svc, err
		}(i)
	}
	wg.Wait()
	ips, ports := map[string]string{}, map[int32]string{}
	for i, svc := range results {
		if errs[i] != nil {
			t.Fatalf("%s: %v", svc.Name, errs[i])
		}
		ip := netip.MustParseAddr(svc.Spec.ClusterIP)
		if !netip.MustParsePrefix("10.43.0.0/24").Contains(ip) || svc.Spec.ClusterIP == "10.43.0.1" {
			t.Errorf("%s got ClusterIP %s outside the range or reserved", svc.Name, ip)
		}
		if other, dup := ips[svc.Spec.ClusterIP]; dup {
			t.Errorf("ClusterIP %s given to %s and %s", svc.Spec.ClusterIP, other, svc.Name)
		}
		ips[svc.Spec.ClusterIP] = svc.Name
		np := svc.Spec.Ports[0].NodePort
		if np < 30000 || np > 30099 {
			t.Errorf("%s got NodePort %d outside the range", svc.Name, np)
		}
		if other, dup := ports[np]; dup {
			t.Errorf("NodePort %d given to %s and %s", np, other, svc.Name)
		}
		ports[np] = svc.Name
	}
}

// Random ClusterIPs stay out of the static band (the first 16 addresses
// of a /24, where the cluster DNS address lies) while the rest has room.
func TestRandomClusterIPsAboveStaticBand(t *testing.T) {
	a := newAllocator(t, "10.43.0.0/24", 30000, 30099)
	for i := range 50 {
		svc := service(fmt.Sprintf("svc-%d", i), corev1.ServiceTypeClusterIP)
		finish, err := a.beginCreate(context.Background(), svc, &metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		finish(context.Background(), true)
		if ip := netip.MustParseAddr(svc.Spec.ClusterIP); ip.As4()[3] < 16 {
			t.Errorf("%s got %s, in the static band", svc.Name, ip)
		}
	}
}

func TestStaticBand(t *testing.T) {
	for size, want := range map[int64]int64{1 << 16: 256, 1 << 20: 256, 256: 16, 64: 16, 16: 2, 4: 2} {
		if got := staticBand(size); got != want {
			t.Errorf("staticBand(%d) = %d, want %d", size, got, want)
		}
	}
}

func TestRequestedValues(t *testing.T) {
	a := newAllocator(t, "10.43.0.0/16", 30000, 32767)
	ctx := context.Background()
	first := service("first", corev1.ServiceTypeNodePort, 80)
	first.Spec.ClusterIP = "10.43.7.7"
	first.Spec.Ports[0].NodePort = 31000
	finish, err := a.beginCreate(ctx, first, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	finish(ctx, true)

	tests := []struct {
		name      string
		clusterIP string
		nodePort  int32
		field     string
	}{
		{"taken ip", "10.43.7.7", 0, "spec.clusterIPs[0]"},
		{"ip outside range", "10.99.0.1", 0, "spec.clusterIPs[0]"},
		{"taken port", "", 31000, "spec.ports[0].nodePort"},
		{"port outside range", "", 80, "spec.ports[0].nodePort"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := service("second", corev1.ServiceTypeNodePort, 80)
			svc.Spec.ClusterIP = tc.clusterIP
			svc.Spec.Ports[0].NodePort = tc.nodePort
			_, err := a.beginCreate(ctx, svc, &metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("got %v, want 422 Invalid", err)
			}
			causes := err.(apierrors.APIStatus).Status().Details.Causes
			if len(causes) != 1 || causes[0].Field != tc.field {
				t.Errorf("causes %+v, want field %s", causes, tc.field)
			}
		})
	}

	// A failed create releases what it reserved: the IP is free again.
	svc := service("third", corev1.ServiceTypeClusterIP, 80)
	svc.Spec.ClusterIP = "10.43.8.8"
	finish, err = a.beginCreate(ctx, svc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	finish(ctx, false)
	again := service("fourth", corev1.ServiceTypeClusterIP, 80)
	again.Spec.ClusterIP = "10.43.8.8"
	if _, err := a.beginCreate(ctx, again, &metav1.CreateOptions{}); err != nil {
		t.Errorf("IP of a failed create stayed reserved: %v", err)
	}
}

// Updates keep the allocated values when the new object leaves them out, and
// changing type releases the NodePorts.
func TestUpdateKeepsAndReleases(t *testing.T) {
	a := newAllocator(t, "10.43.0.0/16", 30000, 30001)
	ctx := context.Background()
	svc := service("web", corev1.ServiceTypeNodePort, 80)
	finish, err := a.beginCreate(ctx, svc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	finish(ctx, true)

	replaced := service("web", corev1.ServiceTypeNodePort, 80)
	finish, err = a.beginUpdate(ctx, replaced, svc, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	finish(ctx, true)
	if replaced.Spec.ClusterIP != svc.Spec.ClusterIP || replaced.Spec.Ports[0].NodePort != svc.Spec.Ports[0].NodePort {
		t.Errorf("update without values got %s/%d, want %s/%d", replaced.Spec.ClusterIP, replaced.Spec.Ports[0].NodePort, svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort)
	}

	clusterIPOnly := service("web", corev1.ServiceTypeClusterIP, 80)
	finish, err = a.beginUpdate(ctx, clusterIPOnly, replaced, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	finish(ctx, true)
	// Both ports of the two-port range are free again: two NodePort services fit.
	for _, name := range []string{"a", "b"} {
		s := service(name, corev1.ServiceTypeNodePort, 80)
		if _, err := a.beginCreate(ctx, s, &metav1.CreateOptions{}); err != nil {
			t.Errorf("NodePort not released by the type change: %v", err)
		}
	}
}
