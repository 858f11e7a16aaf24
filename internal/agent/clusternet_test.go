package agent

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"skiff.dev/skiff/internal/wellknown"
)

func TestClusterCIDR(t *testing.T) {
	cm := func(v string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: wellknown.ClusterNetworkConfigMapName, Namespace: metav1.NamespaceSystem},
			Data: map[string]string{wellknown.ClusterCIDRKey: v}}
	}
	tests := []struct {
		name    string
		objs    []*corev1.ConfigMap
		want    string
		wantErr bool
	}{
		{"published", []*corev1.ConfigMap{cm("10.42.0.0/16")}, "10.42.0.0/16", false},
		{"masked", []*corev1.ConfigMap{cm("10.42.3.4/16")}, "10.42.0.0/16", false},
		{"invalid: an error naming the key", []*corev1.ConfigMap{cm("ten")}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			for _, o := range tc.objs {
				if _, err := client.CoreV1().ConfigMaps(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := clusterCIDR(context.Background(), client)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if tc.want != "" && got.String() != tc.want {
				t.Errorf("cluster CIDR %s, want %s", got, tc.want)
			}
		})
	}
}
