package wellknown

import corev1 "k8s.io/api/core/v1"

// GPUResource is the extended resource NVIDIA GPUs are advertised as.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// Node labels and annotations.
const (
	// SimulatedLabel marks simulated nodes, whose pods are simulated (hollow
	// nodes, skiff agent --runtime fake) and which have no kubelet server;
	// hollow nodes carry it as a label and an annotation, value "true".
	// Hollow nodes serve only the kubelet's stats routes.
	SimulatedLabel = "skiff.dev/simulated"
	// FakeGPUsLabel marks a node whose GPUs are fake (skiff agent
	// --fake-gpus), value "true".
	FakeGPUsLabel = "skiff.dev/fake-gpus"
)

// Pod annotations a simulated node reads.
const (
	// SimulateExitCodeAnnotation sets the exit code of the pod's containers
	// when they end (restartPolicy Never or OnFailure); default 0.
	SimulateExitCodeAnnotation = "skiff.dev/simulate-exit-code"
	// SimulateRunTimeAnnotation sets how long the pod's containers run
	// before they exit (a Go duration such as "30s").
	SimulateRunTimeAnnotation = "skiff.dev/simulate-run-time"
	// SimulateCPUAnnotation sets the CPU the pod uses (a quantity such as
	// "250m"), split evenly between its running containers; it may change
	// while the pod runs.
	SimulateCPUAnnotation = "skiff.dev/simulate-cpu"
	// SimulateMemoryAnnotation sets the memory working set of the pod (a
	// quantity such as "64Mi"), split evenly between its running
	// containers; it may change while the pod runs.
	SimulateMemoryAnnotation = "skiff.dev/simulate-memory"
)

// Service networking.
const (
	// ServiceProxyLabel marks a node that runs skiff's service proxy (the
	// server's own node and every skiff agent with a real runtime; never a
	// simulated node), value "true". The built-in LoadBalancer
	// implementation announces only such nodes' addresses.
	ServiceProxyLabel = "skiff.dev/service-proxy"
	// ServiceProxySyncedAnnotation is set on a node by its service proxy
	// after each sync that reached the kernel: the highest EndpointSlice
	// resourceVersion its informer had delivered before that sync, in
	// decimal. skiff's API server stores in etcd, so resourceVersions are
	// etcd revisions, comparable as integers, and one watch delivers them
	// in increasing order: a node whose value is at least R programmed every
	// EndpointSlice change up to R. Kubelets read it to hold a deleted pod's
	// containers until no proxy routes new connections to it (this is an
	// internal contract of skiff's components, not a Kubernetes API).
	ServiceProxySyncedAnnotation = "skiff.dev/service-proxy-synced-revision"
	// ServiceLBClass is the spec.loadBalancerClass of the built-in
	// LoadBalancer implementation; a Service with no class is served by it
	// too, one with another class is left alone.
	ServiceLBClass = "skiff.dev/servicelb"
	// ClusterDomain is the default DNS domain of the cluster.
	ClusterDomain = "cluster.local"
	// DNSServiceName is the cluster DNS Service in kube-system; its
	// ClusterIP is the tenth address of the service CIDR (10.43.0.10).
	DNSServiceName = "kube-dns"
	// DNSConfigMapName is the ConfigMap in kube-system that holds the
	// cluster DNS configuration.
	DNSConfigMapName = "coredns"
)

// Managers of Endpoints and EndpointSlices: the values of
// discoveryv1.LabelManagedBy and EndpointsManagedByLabel that
// kube-controller-manager's controllers write, so that each touches only its
// own objects.
const (
	// EndpointSliceControllerName manages the EndpointSlices of Services
	// with a selector.
	EndpointSliceControllerName = "endpointslice-controller.k8s.io"
	// EndpointSliceMirroringControllerName manages the EndpointSlices that
	// mirror the hand-written Endpoints of Services without a selector.
	EndpointSliceMirroringControllerName = "endpointslicemirroring-controller.k8s.io"
	// EndpointsManagedByLabel marks the Endpoints the endpoints controller
	// writes (value EndpointsControllerName).
	EndpointsManagedByLabel = "endpoints.kubernetes.io/managed-by"
	// EndpointsControllerName is the endpoints controller's value of
	// EndpointsManagedByLabel.
	EndpointsControllerName = "endpoint-controller"
	// KubernetesServiceName is the Service in default that points at the
	// API servers.
	KubernetesServiceName = "kubernetes"
)

// Cluster networking every node needs to know.
const (
	// ClusterNetworkConfigMapName is the ConfigMap in kube-system where
	// `skiff server` publishes the cluster's address ranges, so that every
	// node (the server's own and each agent) learns them through the API
	// server: pod-to-pod traffic inside the cluster CIDR is never
	// masqueraded.
	ClusterNetworkConfigMapName = "skiff-cluster-network"
	// ClusterCIDRKey holds the cluster CIDR (--cluster-cidr), the range
	// every node's spec.podCIDR is taken from.
	ClusterCIDRKey = "clusterCIDR"
	// ServiceCIDRKey holds the Service ClusterIP range (--service-cidr).
	ServiceCIDRKey = "serviceCIDR"
)

// Identities and RBAC objects skiff adds to Kubernetes' bootstrap policy.
const (
	// NodeComponentsClusterRole is what every node's own components beyond
	// the kubelet need (the service proxy, routes, NetworkPolicy
	// enforcement, the drain wait): reading nodes, pods, namespaces,
	// Services, EndpointSlices and NetworkPolicies cluster-wide, as
	// kube-proxy and a network plugin's node agent do on a Kubernetes
	// cluster. It is bound to the group system:nodes by a
	// ClusterRoleBinding of the same name.
	NodeComponentsClusterRole = "system:skiff:node-components"
	// ClusterNetworkReaderRole is the Role in kube-system that lets nodes
	// read the ClusterNetworkConfigMapName ConfigMap; bound to system:nodes
	// by a RoleBinding of the same name.
	ClusterNetworkReaderRole = "system:skiff:cluster-network-reader"
)

// Service accounts, as Kubernetes names them.
const (
	// DefaultServiceAccountName is the ServiceAccount every namespace gets
	// and pods without spec.serviceAccountName run as.
	DefaultServiceAccountName = "default"
	// RootCAConfigMapName is the ConfigMap in every namespace holding the
	// cluster CA (key RootCAKey) that pods verify the API server with.
	RootCAConfigMapName = "kube-root-ca.crt"
	// RootCAKey is the key of the CA bundle in RootCAConfigMapName.
	RootCAKey = "ca.crt"
	// ServiceAccountMountPath is where a pod's containers find their
	// service account's token, ca.crt and namespace.
	ServiceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// ServiceAccountVolumePrefix starts the name of the projected volume the
	// ServiceAccount admission adds (kube-api-access-xxxxx).
	ServiceAccountVolumePrefix = "kube-api-access-"
	// ServiceAccountTokenPath, NamespacePath are the files of that volume
	// besides RootCAKey.
	ServiceAccountTokenPath = "token"
	NamespacePath           = "namespace"
	// DefaultServiceAccountIssuer is the issuer (iss) of service account
	// tokens and the default API audience, as k3s sets it.
	DefaultServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"
)

// The API server's identity toward the kubelets.
const (
	// KubeletClientCommonName is the user of the API server's client
	// certificate for the kubelets' port (logs, exec, attach,
	// port-forward, stats), as kubeadm names it.
	KubeletClientCommonName = "kube-apiserver-kubelet-client"
	// KubeletAPIAdminBinding is the ClusterRoleBinding that gives that user
	// Kubernetes' system:kubelet-api-admin ClusterRole.
	KubeletAPIAdminBinding = "system:kube-apiserver-kubelet-api-admin"
)

// Storage: the built-in local-path provisioner and its default class.
const (
	// LocalPathStorageClass is the default StorageClass the server creates
	// at start, named as k3s names its own.
	LocalPathStorageClass = "local-path"
	// LocalPathProvisioner is the provisioner of that class: skiff's own
	// (internal/controller/localpath), not Rancher's, whose helper pods and
	// parameters it does not have.
	LocalPathProvisioner = "skiff.dev/local-path"
	// LocalPathRootAnnotation on a Node is the directory under which the
	// node keeps the local-path volumes (<agent data dir>/storage); each
	// volume is the directory named after its PersistentVolume.
	LocalPathRootAnnotation = "skiff.dev/local-path-root"
	// LocalPathDir is that directory's name under the agent's data dir.
	LocalPathDir = "storage"
)

// The API aggregator's identity toward aggregated API servers, as kubeadm
// names it: a client certificate signed by a CA of its own (the front-proxy
// CA, kube-apiserver's --requestheader-client-ca-file), which those servers
// trust to assert the user in the X-Remote-* headers.
const (
	// FrontProxyCAName is the base name of the front-proxy CA's files in
	// the data dir's tls directory, and its CommonName.
	FrontProxyCAName = "front-proxy-ca"
	// FrontProxyClientCommonName is the CommonName of the aggregator's
	// client certificate (kube-apiserver's --proxy-client-cert-file), the
	// one name --requestheader-allowed-names allows.
	FrontProxyClientCommonName = "front-proxy-client"
	// FrontProxyClientCertFile and FrontProxyClientKeyFile are the
	// aggregator's client certificate and key in the data dir's tls
	// directory.
	FrontProxyClientCertFile = "front-proxy-client.crt"
	FrontProxyClientKeyFile  = "front-proxy-client.key"
	// ExtensionAPIServerAuthenticationConfigMap is the ConfigMap in
	// kube-system that tells aggregated API servers how to authenticate
	// clients and the aggregator.
	ExtensionAPIServerAuthenticationConfigMap = "extension-apiserver-authentication"
)
