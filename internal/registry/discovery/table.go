package discovery

import (
	"fmt"
	"strconv"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff.dev/skiff/internal/registry/store"
)

// maxPrinted is how many ports or addresses a column shows before
// " + N more...".
const maxPrinted = 3

// endpointSliceRow renders ADDRESSTYPE PORTS ENDPOINTS AGE as kubectl prints
// them.
func endpointSliceRow(obj runtime.Object) ([]interface{}, error) {
	eps, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, fmt.Errorf("table row: unexpected type %T", obj)
	}
	var ports []string
	for _, p := range eps.Ports {
		switch {
		case p.Port != nil:
			ports = append(ports, strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			ports = append(ports, *p.Name)
		default:
			ports = append(ports, "*")
		}
	}
	var addresses []string
	for _, ep := range eps.Endpoints {
		addresses = append(addresses, ep.Addresses...)
	}
	return []interface{}{string(eps.AddressType), formatList(ports), formatList(addresses), store.Age(eps.CreationTimestamp)}, nil
}

// formatList shows the first three items, then counts the rest; an empty
// list is "<unset>".
func formatList(items []string) string {
	if len(items) == 0 {
		return "<unset>"
	}
	if len(items) > maxPrinted {
		return fmt.Sprintf("%s + %d more...", strings.Join(items[:maxPrinted], ","), len(items)-maxPrinted)
	}
	return strings.Join(items, ",")
}
