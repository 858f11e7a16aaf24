package podenv

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// listServices reads the Services whose variables a pod of pod's namespace
// sees: its namespace's and the default namespace's "kubernetes".
func listServices(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod) ([]corev1.Service, error) {
	var out []corev1.Service
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		list, err := client.CoreV1().Services(pod.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list services of namespace %s: %w", pod.Namespace, err)
		}
		out = list.Items
	}
	if pod.Namespace != metav1.NamespaceDefault || len(out) == 0 {
		svc, err := client.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
		switch {
		case err == nil:
			out = append(out, *svc)
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("get service default/kubernetes: %w", err)
		}
	}
	return out, nil
}

// ServiceEnv makes the service link variables a pod of namespace sees: for
// the "kubernetes" Service of the default namespace always, and for every
// Service of its own namespace when enableServiceLinks is set (a Service of
// its namespace shadows one of the same name in default). Services without
// a cluster IP give none.
func ServiceEnv(services []corev1.Service, namespace string, enableServiceLinks bool) map[string]string {
	chosen := map[string]*corev1.Service{}
	for i := range services {
		svc := &services[i]
		if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
			continue
		}
		switch {
		case svc.Namespace == namespace && enableServiceLinks:
			chosen[svc.Name] = svc
		case svc.Namespace == metav1.NamespaceDefault && svc.Name == "kubernetes":
			if _, ok := chosen[svc.Name]; !ok {
				chosen[svc.Name] = svc
			}
		}
	}
	env := map[string]string{}
	for _, svc := range chosen {
		prefix := envName(svc.Name)
		ip := svc.Spec.ClusterIP
		env[prefix+"_SERVICE_HOST"] = ip
		for i, p := range svc.Spec.Ports {
			port := strconv.Itoa(int(p.Port))
			if i == 0 {
				env[prefix+"_SERVICE_PORT"] = port
			}
			if p.Name != "" {
				env[prefix+"_SERVICE_PORT_"+envName(p.Name)] = port
			}
			proto := strings.ToLower(string(p.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			url := proto + "://" + net.JoinHostPort(ip, port)
			if i == 0 {
				env[prefix+"_PORT"] = url
			}
			pp := prefix + "_PORT_" + port + "_" + strings.ToUpper(proto)
			env[pp] = url
			env[pp+"_PROTO"] = proto
			env[pp+"_PORT"] = port
			env[pp+"_ADDR"] = ip
		}
	}
	return env
}

func envName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}
