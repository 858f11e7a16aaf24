package agent

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/wellknown"
)

// clusterCIDRWait bounds how long a node waits for the server to publish
// the cluster network (it does so once its API is ready, before its own
// node starts; an agent that joins at that very moment waits briefly).
const clusterCIDRWait = 10 * time.Second

// clusterCIDR reads the cluster CIDR that `skiff server` publishes in the
// ConfigMap kube-system/skiff-cluster-network. Without it (an older
// server), the zero prefix: the node then treats only its own pod CIDR as
// the pod network, and traffic to other nodes' pods is masqueraded.
func clusterCIDR(ctx context.Context, client kubernetes.Interface) (netip.Prefix, error) {
	var cidr netip.Prefix
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, clusterCIDRWait, true, func(ctx context.Context) (bool, error) {
		cm, err := client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, wellknown.ClusterNetworkConfigMapName, metav1.GetOptions{})
		if err != nil {
			// Not published yet, or the API is briefly away: retried
			// until the timeout.
			return false, nil
		}
		v := cm.Data[wellknown.ClusterCIDRKey]
		p, perr := netip.ParsePrefix(v)
		if perr != nil {
			return false, fmt.Errorf("configmap %s/%s: %s %q: %w", metav1.NamespaceSystem, wellknown.ClusterNetworkConfigMapName, wellknown.ClusterCIDRKey, v, perr)
		}
		cidr = p.Masked()
		return true, nil
	})
	if err != nil && !wait.Interrupted(err) {
		return netip.Prefix{}, err
	}
	return cidr, nil
}
