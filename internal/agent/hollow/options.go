package hollow

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/big"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/wellknown"
)

// Labels and annotations hollow nodes read or write.
const (
	// SimulatedKey marks simulated nodes (label and annotation, value "true").
	SimulatedKey = wellknown.SimulatedLabel
	// ExitCodeAnnotation on a pod sets the exit code of its containers when
	// they end (restartPolicy Never or OnFailure); default 0.
	ExitCodeAnnotation = wellknown.SimulateExitCodeAnnotation
	// RunTimeAnnotation on a pod sets how long its containers run before they
	// exit (a Go duration such as "30s"), overriding Options.ContainerRunTime.
	RunTimeAnnotation = wellknown.SimulateRunTimeAnnotation
	// CPUAnnotation on a pod sets the CPU it uses (a quantity such as
	// "250m"), overriding Options.PodCPU.
	CPUAnnotation = wellknown.SimulateCPUAnnotation
	// MemoryAnnotation on a pod sets its memory working set (a quantity
	// such as "64Mi"), overriding Options.PodMemory.
	MemoryAnnotation = wellknown.SimulateMemoryAnnotation
)

// Options configures a Cluster of hollow nodes. Zero values take the
// defaults documented on each field.
type Options struct {
	// Names of the nodes to simulate. When empty, Count nodes named
	// NamePrefix0, NamePrefix1, ... are simulated.
	Names []string
	// Count of nodes when Names is empty; default 1.
	Count int
	// NamePrefix of generated names; default "hollow-".
	NamePrefix string

	// Capacity of every node. Missing cpu, memory, pods and
	// ephemeral-storage take 8, 32Gi, 110 and 100Gi; extended resources
	// (nvidia.com/gpu) are added as given. Allocatable equals capacity.
	Capacity corev1.ResourceList
	// Labels added to every node (beside kubernetes.io/hostname, os, arch
	// and skiff.dev/simulated).
	Labels map[string]string
	// Taints every node registers with.
	Taints []corev1.Taint

	// ClusterCIDR is split into one pod CIDR per node, in the order of the
	// names; default 10.42.0.0/16. A node that already has spec.podCIDR
	// keeps it.
	ClusterCIDR netip.Prefix
	// WaitForPodCIDR makes the nodes register without spec.podCIDR and
	// leave their pods without addresses (waiting) until the node IPAM
	// controller assigned one; ClusterCIDR is then not used. For nodes of a
	// cluster whose controller manager hands out pod CIDRs.
	WaitForPodCIDR bool
	// NodeCIDRMaskSize is the prefix length of each node's pod CIDR;
	// default 24, made longer when ClusterCIDR holds too few of them.
	NodeCIDRMaskSize int
	// NodeIPRange gives node i the address i+1 of the range as its
	// InternalIP; default 127.41.0.0/16, on the loopback interface (Linux
	// routes all of 127.0.0.0/8 to it), so that the nodes' stats servers
	// can listen there without any set-up. Pods with hostNetwork get their
	// node's address, which EndpointSlices refuse as they do every
	// loopback address: a Service should not select them.
	NodeIPRange netip.Prefix

	// ClientCA, the PEM bundle of the cluster CA, makes every node serve
	// the kubelet's /stats/summary and /metrics/resource on
	// InternalIP:KubeletPort behind the kubelet server's authentication
	// (client certificates of that CA, bearer tokens through TokenReview)
	// and authorization (SubjectAccessReview on nodes/stats and
	// nodes/metrics). Without it nothing is served.
	ClientCA []byte
	// ServingCertificate returns the certificate the nodes' kubelet
	// servers present, for their InternalIPs (hosts); the API server
	// accepts only one the cluster CA signed. Nil: a self-signed one.
	ServingCertificate func(hosts []string) (tls.Certificate, error)
	// KubeletPort is the port every node serves on and reports in
	// status.daemonEndpoints; default 10250. A node whose address has that
	// port taken listens on a free one and reports that.
	KubeletPort int
	// PodCPU is the CPU a pod uses without the skiff.dev/simulate-cpu
	// annotation, default 1m; PodMemory its memory working set without
	// skiff.dev/simulate-memory, default 8Mi. Either is split evenly
	// between the pod's running containers; the CPU time of each grows at
	// that rate, so a scraper's rate over two scrapes gives it back.
	PodCPU, PodMemory resource.Quantity

	// LeaseDuration is the Lease's leaseDurationSeconds; default 40s.
	LeaseDuration time.Duration
	// LeaseRenewInterval between Lease renewals; default 10s.
	LeaseRenewInterval time.Duration
	// NodeStatusUpdateFrequency is how often a node checks its status
	// against the server's copy and writes it when it differs; default 10s.
	NodeStatusUpdateFrequency time.Duration
	// NodeStatusReportFrequency is how often the status is written even when
	// unchanged (the kubelet's nodeStatusReportFrequency); default 5m.
	NodeStatusReportFrequency time.Duration

	// ContainerRunTime is how long containers of pods whose restartPolicy is
	// not Always run before they exit; default 1s.
	ContainerRunTime time.Duration
	// RestartBackOff is the first back-off before a failed container of an
	// OnFailure pod restarts, doubled per restart up to 5m; default 10s.
	RestartBackOff time.Duration

	// Workers is the number of goroutines writing pod status; default 16.
	Workers int
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Kubernetes' kubelet defaults.
const (
	defaultLeaseDuration      = 40 * time.Second
	defaultLeaseRenewInterval = 10 * time.Second
	defaultStatusUpdateFreq   = 10 * time.Second
	defaultStatusReportFreq   = 5 * time.Minute
	defaultContainerRunTime   = time.Second
	defaultRestartBackOff     = 10 * time.Second
	maxRestartBackOff         = 5 * time.Minute
	defaultWorkers            = 16
	defaultNodeCIDRMaskSize   = 24
	kubeletPort               = 10250
	defaultNamePrefix         = "hollow-"
	simulatedRuntimeIDPrefix  = "simulated://"
	simulatedContainerRuntime = "simulated://1.0"
	simulatedKernel           = "simulated"
	simulatedOSImage          = "skiff simulated node"
	kubeletVersionForHollow   = "v1.37.2-skiff-hollow"
	defaultClusterCIDRString  = "10.42.0.0/16"
	defaultPodCPU             = "1m"
	defaultPodMemory          = "8Mi"
	defaultNodeIPRangeString  = "127.41.0.0/16"
)

func (o Options) withDefaults() (Options, error) {
	if len(o.Names) == 0 {
		if o.Count <= 0 {
			o.Count = 1
		}
		if o.NamePrefix == "" {
			o.NamePrefix = defaultNamePrefix
		}
		o.Names = make([]string, o.Count)
		for i := range o.Names {
			o.Names[i] = fmt.Sprintf("%s%d", o.NamePrefix, i)
		}
	}
	seen := make(map[string]bool, len(o.Names))
	for _, n := range o.Names {
		if seen[n] {
			return o, fmt.Errorf("hollow: node name %q given twice", n)
		}
		seen[n] = true
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("8"),
		corev1.ResourceMemory:           resource.MustParse("32Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	for k, v := range o.Capacity {
		capacity[k] = v.DeepCopy()
	}
	o.Capacity = capacity
	if !o.ClusterCIDR.IsValid() {
		o.ClusterCIDR = netip.MustParsePrefix(defaultClusterCIDRString)
	}
	o.ClusterCIDR = o.ClusterCIDR.Masked()
	if o.NodeCIDRMaskSize == 0 {
		o.NodeCIDRMaskSize = defaultNodeCIDRMaskSize
	}
	bits := o.ClusterCIDR.Addr().BitLen()
	for o.NodeCIDRMaskSize < bits-2 && !fits(len(o.Names), o.NodeCIDRMaskSize-o.ClusterCIDR.Bits()) {
		o.NodeCIDRMaskSize++
	}
	if o.NodeCIDRMaskSize < o.ClusterCIDR.Bits() || !fits(len(o.Names), o.NodeCIDRMaskSize-o.ClusterCIDR.Bits()) {
		return o, fmt.Errorf("hollow: cluster CIDR %s holds too few /%d node CIDRs for %d nodes", o.ClusterCIDR, o.NodeCIDRMaskSize, len(o.Names))
	}
	if !o.NodeIPRange.IsValid() {
		o.NodeIPRange = netip.MustParsePrefix(defaultNodeIPRangeString)
	}
	o.NodeIPRange = o.NodeIPRange.Masked()
	if !fits(len(o.Names)+1, o.NodeIPRange.Addr().BitLen()-o.NodeIPRange.Bits()) {
		return o, fmt.Errorf("hollow: node IP range %s is too small for %d nodes", o.NodeIPRange, len(o.Names))
	}
	if o.KubeletPort <= 0 {
		o.KubeletPort = kubeletPort
	}
	if o.PodCPU.IsZero() {
		o.PodCPU = resource.MustParse(defaultPodCPU)
	}
	if o.PodMemory.IsZero() {
		o.PodMemory = resource.MustParse(defaultPodMemory)
	}
	setDuration(&o.LeaseDuration, defaultLeaseDuration)
	setDuration(&o.LeaseRenewInterval, defaultLeaseRenewInterval)
	setDuration(&o.NodeStatusUpdateFrequency, defaultStatusUpdateFreq)
	setDuration(&o.NodeStatusReportFrequency, defaultStatusReportFreq)
	setDuration(&o.ContainerRunTime, defaultContainerRunTime)
	setDuration(&o.RestartBackOff, defaultRestartBackOff)
	if o.Workers <= 0 {
		o.Workers = defaultWorkers
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// fits reports whether n items fit in 2^bits.
func fits(n, bits int) bool {
	if bits >= 62 {
		return true
	}
	return bits >= 0 && int64(n) <= int64(1)<<bits
}

// nthAddr returns the address at offset n from the start of p.
func nthAddr(p netip.Prefix, n uint64) netip.Addr {
	b := new(big.Int).SetBytes(p.Addr().AsSlice())
	b.Add(b, new(big.Int).SetUint64(n))
	raw := b.FillBytes(make([]byte, p.Addr().BitLen()/8))
	a, _ := netip.AddrFromSlice(raw)
	return a
}

// nodeCIDR returns the i-th subnet of size bits in cluster.
func nodeCIDR(cluster netip.Prefix, bits, i int) netip.Prefix {
	hostBits := cluster.Addr().BitLen() - bits
	off := new(big.Int).Lsh(big.NewInt(int64(i)), uint(hostBits))
	b := new(big.Int).SetBytes(cluster.Addr().AsSlice())
	b.Add(b, off)
	raw := b.FillBytes(make([]byte, cluster.Addr().BitLen()/8))
	a, _ := netip.AddrFromSlice(raw)
	return netip.PrefixFrom(a, bits)
}
