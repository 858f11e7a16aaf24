package networking

import (
	"fmt"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff.dev/skiff/internal/registry/store"
)

// maxPrintedHosts is how many hosts the HOSTS column shows before
// " + N more...".
const maxPrintedHosts = 3

// ingressRow renders CLASS HOSTS ADDRESS PORTS AGE as kubectl prints them.
func ingressRow(obj runtime.Object) ([]interface{}, error) {
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok {
		return nil, fmt.Errorf("table row: unexpected type %T", obj)
	}
	class := "<none>"
	if ing.Spec.IngressClassName != nil {
		class = *ing.Spec.IngressClassName
	}
	ports := "80"
	if len(ing.Spec.TLS) > 0 {
		ports = "80, 443"
	}
	return []interface{}{
		class,
		formatHosts(ing.Spec.Rules),
		formatAddresses(ing.Status.LoadBalancer.Ingress),
		ports,
		store.Age(ing.CreationTimestamp),
	}, nil
}

// formatHosts lists the rules' hosts ("*" when none names one); past three,
// the remaining rules are counted, hosts or not, as Kubernetes does.
func formatHosts(rules []networkingv1.IngressRule) string {
	var list []string
	more := false
	for _, rule := range rules {
		if len(list) == maxPrintedHosts {
			more = true
		}
		if !more && rule.Host != "" {
			list = append(list, rule.Host)
		}
	}
	if len(list) == 0 {
		return "*"
	}
	s := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", s, len(rules)-maxPrintedHosts)
	}
	return s
}

// formatAddresses lists the distinct load-balancer IPs or hostnames, sorted.
func formatAddresses(ingress []networkingv1.IngressLoadBalancerIngress) string {
	seen := map[string]bool{}
	var list []string
	for _, i := range ingress {
		addr := i.IP
		if addr == "" {
			addr = i.Hostname
		}
		if addr != "" && !seen[addr] {
			seen[addr] = true
			list = append(list, addr)
		}
	}
	sort.Strings(list)
	return strings.Join(list, ",")
}

// ingressClassRow renders CONTROLLER PARAMETERS AGE.
func ingressClassRow(obj runtime.Object) ([]interface{}, error) {
	ic, ok := obj.(*networkingv1.IngressClass)
	if !ok {
		return nil, fmt.Errorf("table row: unexpected type %T", obj)
	}
	params := "<none>"
	if p := ic.Spec.Parameters; p != nil {
		params = p.Kind
		if p.APIGroup != nil {
			params += "." + *p.APIGroup
		}
		params += "/" + p.Name
	}
	return []interface{}{ic.Spec.Controller, params, store.Age(ic.CreationTimestamp)}, nil
}
