package drain

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"skiff.dev/skiff/internal/wellknown"
)

// Decision says whether a deleted pod must still wait before its
// containers are stopped, and why.
type Decision struct {
	// Wait: a proxy may still send the pod new connections.
	Wait bool
	// Reason says what is waited for (empty when Wait is false).
	Reason string
}

// Decide computes, from the EndpointSlices of the pod's namespace and the
// nodes labelled wellknown.ServiceProxyLabel, whether the pod may still
// get new connections. It reads only its arguments.
func Decide(pod *corev1.Pod, nsSlices []*discoveryv1.EndpointSlice, proxyNodes []*corev1.Node) Decision {
	if svc, ok := routableIn(pod, nsSlices); ok {
		return Decision{Wait: true, Reason: fmt.Sprintf("still an endpoint of Service %s/%s", pod.Namespace, svc)}
	}
	want := Revision(nsSlices)
	if want == 0 {
		return Decision{}
	}
	if lagging := Lagging(proxyNodes, want); len(lagging) > 0 {
		return Decision{Wait: true, Reason: fmt.Sprintf("service proxies of nodes %s have not programmed revision %d", strings.Join(lagging, ", "), want)}
	}
	return Decision{}
}

// routableIn reports the first Service (by name) whose proxies would send
// new connections to the pod: its endpoint is ready, or serving and
// terminating while the Service has no ready endpoint (the proxy's
// fallback, so that a rollout's last pods answer until others are ready).
func routableIn(pod *corev1.Pod, nsSlices []*discoveryv1.EndpointSlice) (string, bool) {
	type service struct{ anyReady, podReady, podFallback bool }
	byService := map[string]*service{}
	for _, sl := range nsSlices {
		name := sl.Labels[discoveryv1.LabelServiceName]
		if name == "" || sl.Namespace != pod.Namespace {
			continue
		}
		s := byService[name]
		if s == nil {
			s = &service{}
			byService[name] = s
		}
		for _, e := range sl.Endpoints {
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			serving := ready
			if e.Conditions.Serving != nil {
				serving = *e.Conditions.Serving
			}
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			s.anyReady = s.anyReady || ready
			if !isPod(e.TargetRef, pod) {
				continue
			}
			s.podReady = s.podReady || ready
			s.podFallback = s.podFallback || (serving && terminating)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(byService)) {
		s := byService[n]
		if s.podReady || (!s.anyReady && s.podFallback) {
			return n, true
		}
	}
	return "", false
}

func isPod(ref *corev1.ObjectReference, pod *corev1.Pod) bool {
	if ref == nil || ref.Kind != "Pod" || ref.Namespace != pod.Namespace || ref.Name != pod.Name {
		return false
	}
	return ref.UID == "" || ref.UID == pod.UID
}

// Revision is the newest resourceVersion among the slices (0 when none
// parses): the state a proxy must have programmed to agree with them.
func Revision(slices []*discoveryv1.EndpointSlice) int64 {
	var max int64
	for _, sl := range slices {
		if rv, err := strconv.ParseInt(sl.ResourceVersion, 10, 64); err == nil && rv > max {
			max = rv
		}
	}
	return max
}

// Lagging names, sorted, the Ready nodes labelled as serving Services
// whose proxy has not acknowledged revision want (a missing or unreadable
// annotation counts as not acknowledged).
func Lagging(nodes []*corev1.Node, want int64) []string {
	var out []string
	for _, n := range nodes {
		if n.Labels[wellknown.ServiceProxyLabel] != "true" || !nodeReady(n) {
			continue
		}
		got, err := strconv.ParseInt(n.Annotations[wellknown.ServiceProxySyncedAnnotation], 10, 64)
		if err != nil || got < want {
			out = append(out, n.Name)
		}
	}
	slices.Sort(out)
	return out
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
