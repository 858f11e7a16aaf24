package wellknown

// Cluster DNS: the kube-dns Service in kube-system and its Endpoints, named
// and labelled as Kubernetes distributions (kubeadm, k3s) name them, so that
// tools that look for the cluster DNS find it.
const (
	// DNSAppLabel is the label key that marks the cluster DNS Service
	// (value DNSAppName): k8s-app=kube-dns.
	DNSAppLabel = "k8s-app"
	// DNSAppName is the value of DNSAppLabel on the cluster DNS Service.
	DNSAppName = "kube-dns"
	// ServiceNameLabel names the implementation behind an add-on Service
	// (kubernetes.io/name=CoreDNS on the DNS Service, as k3s sets it).
	ServiceNameLabel = "kubernetes.io/name"
	// DNSImplementationName is the value of ServiceNameLabel on the
	// cluster DNS Service.
	DNSImplementationName = "CoreDNS"
	// ClusterServiceLabel marks a Service as a cluster add-on, value "true".
	ClusterServiceLabel = "kubernetes.io/cluster-service"
	// DNSPortName and DNSTCPPortName are the cluster DNS Service's and
	// Endpoints' port names (53/UDP and 53/TCP); DNSPort is the port of
	// the Service.
	DNSPortName    = "dns"
	DNSTCPPortName = "dns-tcp"
	DNSPort        = 53
)

// DNSServiceLabels are the labels of the cluster DNS Service and its
// Endpoints: k8s-app=kube-dns, kubernetes.io/name=CoreDNS,
// kubernetes.io/cluster-service=true.
func DNSServiceLabels() map[string]string {
	return map[string]string{
		DNSAppLabel:         DNSAppName,
		ServiceNameLabel:    DNSImplementationName,
		ClusterServiceLabel: "true",
	}
}
