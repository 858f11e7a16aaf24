package servicealloc

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestPlanRepair(t *testing.T) {
	a := &Allocator{cfg: Config{ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16"), NodePortMin: 30000, NodePortMax: 32767}}
	svc := func(name, uid, ip string, nodePorts ...int32) corev1.Service {
		s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(uid)}, Spec: corev1.ServiceSpec{ClusterIP: ip, Type: corev1.ServiceTypeClusterIP}}
		if len(nodePorts) > 0 {
			s.Spec.Type = corev1.ServiceTypeNodePort
		}
		for _, p := range nodePorts {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: 80, NodePort: p})
		}
		return s
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	grace := time.Minute
	web := svc("web", "u1", "10.43.0.5", 30080)
	for _, tc := range []struct {
		name       string
		records    []record
		services   []corev1.Service
		leaked     map[string]time.Time
		want       []fix
		wantLeaked []string
	}{
		{name: "all in order", records: []record{{"clusterips/10.43.0.5", "default/web/u1", 1}, {"nodeports/30080", "default/web/u1", 2}},
			services: []corev1.Service{web}},
		{name: "leak first seen: watched, not released", records: []record{{"clusterips/10.43.0.9", "default/gone/u9", 3}},
			wantLeaked: []string{"clusterips/10.43.0.9\x00default/gone/u9"}},
		{name: "leak seen for less than grace: still watched", records: []record{{"clusterips/10.43.0.9", "default/gone/u9", 3}},
			leaked:     map[string]time.Time{"clusterips/10.43.0.9\x00default/gone/u9": now.Add(-30 * time.Second)},
			wantLeaked: []string{"clusterips/10.43.0.9\x00default/gone/u9"}},
		{name: "leak seen for grace: released", records: []record{{"nodeports/30999", "default/gone/u9", 3}},
			leaked: map[string]time.Time{"nodeports/30999\x00default/gone/u9": now.Add(-grace)},
			want:   []fix{{action: fixRelease, key: "nodeports/30999", old: "default/gone/u9", rev: 3}}},
		{name: "a record whose value changed starts its grace again", records: []record{{"clusterips/10.43.0.9", "default/other/u8", 4}},
			leaked:     map[string]time.Time{"clusterips/10.43.0.9\x00default/gone/u9": now.Add(-time.Hour)},
			wantLeaked: []string{"clusterips/10.43.0.9\x00default/other/u8"}},
		{name: "old Service of the same name (other UID) held it, in use by the new one: re-recorded",
			records:  []record{{"clusterips/10.43.0.5", "default/web/u0", 5}, {"nodeports/30080", "default/web/u1", 6}},
			services: []corev1.Service{web},
			want:     []fix{{action: fixReown, key: "clusterips/10.43.0.5", value: "default/web/u1", old: "default/web/u0", rev: 5, services: []string{"default/web"}}}},
		{name: "missing records written", services: []corev1.Service{web},
			want: []fix{{action: fixRecord, key: "clusterips/10.43.0.5", value: "default/web/u1", services: []string{"default/web"}},
				{action: fixRecord, key: "nodeports/30080", value: "default/web/u1", services: []string{"default/web"}}}},
		{name: "reservation by name without its Service: kept", records: []record{{"clusterips/10.43.0.10", "kube-system/kube-dns", 7}}},
		{name: "reservation by name taken over by its Service", records: []record{{"clusterips/10.43.0.10", "kube-system/kube-dns", 7}},
			services: []corev1.Service{func() corev1.Service { s := svc("kube-dns", "d1", "10.43.0.10"); s.Namespace = "kube-system"; return s }()},
			want:     []fix{{action: fixReown, key: "clusterips/10.43.0.10", value: "kube-system/kube-dns/d1", old: "kube-system/kube-dns", rev: 7, services: []string{"kube-system/kube-dns"}}}},
		{name: "headless, ExternalName and out-of-range values need no record",
			services: []corev1.Service{svc("headless", "h", corev1.ClusterIPNone), func() corev1.Service {
				s := svc("ext", "e", "")
				s.Spec.Type = corev1.ServiceTypeExternalName
				return s
			}(), svc("outside", "o", "10.99.0.1")}},
		{name: "two Services on one address: reported, first recorded",
			services: []corev1.Service{svc("a", "ua", "10.43.0.7"), svc("b", "ub", "10.43.0.7")},
			want: []fix{{action: fixDuplicate, key: "clusterips/10.43.0.7", services: []string{"default/a", "default/b"}},
				{action: fixRecord, key: "clusterips/10.43.0.7", value: "default/a/ua", services: []string{"default/a"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, leaked := planRepair(tc.records, tc.services, a.keysOf, tc.leaked, now, grace)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("fixes\n got %+v\nwant %+v", got, tc.want)
			}
			var keys []string
			for k := range leaked {
				keys = append(keys, k)
			}
			if len(keys) != len(tc.wantLeaked) || (len(keys) > 0 && !reflect.DeepEqual(keys, tc.wantLeaked)) {
				t.Errorf("watched leaks %q, want %q", keys, tc.wantLeaked)
			}
		})
	}
}

func TestParseOwner(t *testing.T) {
	for in, want := range map[string][2]string{
		"default/web/1234-5":   {"default/web", "1234-5"},
		"kube-system/kube-dns": {"kube-system/kube-dns", ""},
	} {
		name, uid := parseOwner(in)
		if name != want[0] || uid != want[1] {
			t.Errorf("parseOwner(%q) = %q %q, want %q", in, name, uid, want)
		}
	}
}
