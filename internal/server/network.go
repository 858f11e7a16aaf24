package server

import (
	"context"
	"fmt"
	"maps"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/controller/nodeipam"
	"skiff.dev/skiff/internal/wellknown"
)

// clusterNetworkConfigMap is the ConfigMap that tells every node the
// cluster's address ranges (wellknown.ClusterNetworkConfigMapName).
func clusterNetworkConfigMap(clusterCIDR, serviceCIDR netip.Prefix) *corev1.ConfigMap {
	if !clusterCIDR.IsValid() {
		clusterCIDR = nodeipam.DefaultClusterCIDR
	}
	data := map[string]string{wellknown.ClusterCIDRKey: clusterCIDR.Masked().String()}
	if serviceCIDR.IsValid() {
		data[wellknown.ServiceCIDRKey] = serviceCIDR.Masked().String()
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: wellknown.ClusterNetworkConfigMapName, Namespace: metav1.NamespaceSystem},
		Data:       data,
	}
}

// publishClusterNetwork creates or updates the cluster network ConfigMap,
// before any node of this server starts.
func publishClusterNetwork(ctx context.Context, loopback *rest.Config, cfg Config) error {
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return fmt.Errorf("cluster network ConfigMap: %w", err)
	}
	want := clusterNetworkConfigMap(cfg.ControllerManager.NodeIPAM.ClusterCIDR, cfg.ServiceCIDR)
	cms := client.CoreV1().ConfigMaps(want.Namespace)
	_, err = cms.Create(ctx, want, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("create configmap %s/%s: %w", want.Namespace, want.Name, err)
		}
		return nil
	}
	have, err := cms.Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get configmap %s/%s: %w", want.Namespace, want.Name, err)
	}
	if maps.Equal(have.Data, want.Data) {
		return nil
	}
	have = have.DeepCopy()
	have.Data = want.Data
	if _, err := cms.Update(ctx, have, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update configmap %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}
