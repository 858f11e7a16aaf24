package kubelet

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// hostnameMaxLen is the longest hostname the kernel takes (64 bytes with
// the terminating NUL).
const hostnameMaxLen = 63

// podHostname is the hostname a pod's sandbox gets, as the kubelet gives
// it: spec.hostname or else the pod's name, cut to 63 characters without
// a trailing '-' or '.'; with spec.subdomain and setHostnameAsFQDN, the
// fully qualified <hostname>.<subdomain>.<namespace>.svc.<clusterDomain>
// when that fits the kernel's 64 bytes (the short name otherwise).
func podHostname(pod *corev1.Pod, clusterDomain string) string {
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if len(hostname) > hostnameMaxLen {
		hostname = strings.TrimRight(hostname[:hostnameMaxLen], "-.")
	}
	if pod.Spec.Subdomain == "" || pod.Spec.SetHostnameAsFQDN == nil || !*pod.Spec.SetHostnameAsFQDN {
		return hostname
	}
	fqdn := hostname + "." + pod.Spec.Subdomain + "." + pod.Namespace + ".svc." + clusterDomain
	if len(fqdn) > hostnameMaxLen+1 {
		return hostname
	}
	return fqdn
}
