package proxysub

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ServiceLocation returns where a services/proxy request for svc goes: a
// ready address of eps that serves the Service port named port (a port
// number is first turned into the name of the Service port with that
// number; no port means the unnamed port), over scheme ("" is http). pick
// returns a random index below n, so that requests spread over subsets and
// addresses. The errors are Kubernetes': 503 for a port the Service does
// not have and for a Service without a ready endpoint for the port.
func ServiceLocation(svc *corev1.Service, eps *corev1.Endpoints, scheme, port string, pick func(n int) int) (*url.URL, error) {
	if n, err := strconv.ParseInt(port, 10, 32); err == nil {
		found := false
		for _, p := range svc.Spec.Ports {
			if int64(p.Port) == n {
				port, found = p.Name, true
				break
			}
		}
		if !found {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", n, svc.Name))
		}
	}
	if eps != nil && len(eps.Subsets) > 0 {
		first := pick(len(eps.Subsets))
		for i := range eps.Subsets {
			ss := &eps.Subsets[(first+i)%len(eps.Subsets)]
			if len(ss.Addresses) == 0 {
				continue
			}
			for _, p := range ss.Ports {
				if p.Name != port {
					continue
				}
				addr := ss.Addresses[pick(len(ss.Addresses))]
				return &url.URL{Scheme: orHTTP(scheme), Host: net.JoinHostPort(addr.IP, strconv.Itoa(int(p.Port)))}, nil
			}
		}
	}
	return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", svc.Name))
}

// PodLocation returns where a pods/proxy request for pod goes: its IP and
// port (no port means the first port a container declares, else none),
// over scheme ("" is http). As in Kubernetes, only a global unicast pod IP
// is proxied to (not loopback, link-local or unspecified): 400 otherwise.
func PodLocation(pod *corev1.Pod, scheme, port string) (*url.URL, error) {
	if port == "" {
		for _, c := range pod.Spec.Containers {
			if len(c.Ports) > 0 {
				port = strconv.Itoa(int(c.Ports[0].ContainerPort))
				break
			}
		}
	}
	ip, err := netip.ParseAddr(podIP(pod))
	if err != nil || !ip.IsGlobalUnicast() {
		return nil, apierrors.NewBadRequest("address not allowed")
	}
	host := ip.String()
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if ip.Is6() {
		host = "[" + host + "]"
	}
	return &url.URL{Scheme: orHTTP(scheme), Host: host}, nil
}

func podIP(pod *corev1.Pod) string {
	if pod.Status.PodIP != "" {
		return pod.Status.PodIP
	}
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return ""
}

// NodeLocation returns where a nodes/proxy request goes, given the node's
// kubelet server host:port: the kubelet over HTTPS when no port or the
// kubelet's port is asked (toKubelet: use the kubelet client transport),
// otherwise the asked port on the node's address over scheme ("" is http).
func NodeLocation(kubelet, scheme, port string) (loc *url.URL, toKubelet bool, err error) {
	host, kubeletPort, err := net.SplitHostPort(kubelet)
	if err != nil {
		return nil, false, fmt.Errorf("kubelet address %q: %w", kubelet, err)
	}
	if port == "" || port == kubeletPort {
		return &url.URL{Scheme: "https", Host: kubelet}, true, nil
	}
	return &url.URL{Scheme: orHTTP(scheme), Host: net.JoinHostPort(host, port)}, false, nil
}

func orHTTP(scheme string) string {
	if scheme == "" {
		return "http"
	}
	return scheme
}
