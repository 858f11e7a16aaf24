package discovery

import (
	"fmt"
	"net"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	maxTopologyLabels = 16
	maxAddresses      = 100
	maxPorts          = 20000
	maxEndpoints      = 1000
	maxZoneHints      = 8
	maxNodeHints      = 8
)

var (
	// Sorted, as Kubernetes lists them in NotSupported errors.
	addressTypes = []string{
		string(discoveryv1.AddressTypeFQDN),
		string(discoveryv1.AddressTypeIPv4),
		string(discoveryv1.AddressTypeIPv6),
	}
	portProtocols = []string{string(corev1.ProtocolSCTP), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)}
)

func validateEndpointSlice(eps *discoveryv1.EndpointSlice) field.ErrorList {
	errs := validateAddressType(eps.AddressType)
	errs = append(errs, validateEndpoints(eps.Endpoints, eps.AddressType, field.NewPath("endpoints"))...)
	return append(errs, validatePorts(eps.Ports, field.NewPath("ports"))...)
}

func validateAddressType(t discoveryv1.AddressType) field.ErrorList {
	p := field.NewPath("addressType")
	switch {
	case t == "":
		return field.ErrorList{field.Required(p, "")}
	case !slices.Contains(addressTypes, string(t)):
		return field.ErrorList{field.NotSupported(p, t, addressTypes)}
	}
	return nil
}

func validateEndpoints(endpoints []discoveryv1.Endpoint, addrType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if len(endpoints) > maxEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(endpoints), maxEndpoints)}
	}
	var errs field.ErrorList
	for i := range endpoints {
		ep := &endpoints[i]
		idxPath := fldPath.Index(i)
		addrPath := idxPath.Child("addresses")
		if len(ep.Addresses) == 0 {
			errs = append(errs, field.Required(addrPath, "must contain at least 1 address"))
		} else if len(ep.Addresses) > maxAddresses {
			errs = append(errs, field.TooMany(addrPath, len(ep.Addresses), maxAddresses))
		}
		for j, addr := range ep.Addresses {
			// Unknown address types fall through unchecked, as in Kubernetes.
			switch addrType {
			case discoveryv1.AddressTypeIPv4:
				errs = append(errs, validateEndpointIP(addrPath.Index(j), addr, false)...)
			case discoveryv1.AddressTypeIPv6:
				errs = append(errs, validateEndpointIP(addrPath.Index(j), addr, true)...)
			case discoveryv1.AddressTypeFQDN:
				errs = append(errs, validation.IsFullyQualifiedDomainName(addrPath.Index(j), addr)...)
			}
		}
		if ep.NodeName != nil {
			for _, msg := range apivalidation.NameIsDNSSubdomain(*ep.NodeName, false) {
				errs = append(errs, field.Invalid(idxPath.Child("nodeName"), *ep.NodeName, msg))
			}
		}
		topologyPath := idxPath.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > maxTopologyLabels {
			errs = append(errs, field.TooMany(topologyPath, len(ep.DeprecatedTopology), maxTopologyLabels))
		}
		errs = append(errs, metavalidation.ValidateLabels(ep.DeprecatedTopology, topologyPath)...)
		if ep.Hostname != nil {
			for _, msg := range content.IsDNS1123Label(*ep.Hostname) {
				errs = append(errs, field.Invalid(idxPath.Child("hostname"), *ep.Hostname, msg))
			}
		}
		if ep.Hints != nil {
			errs = append(errs, validateHints(ep.Hints, idxPath.Child("hints"))...)
		}
	}
	return errs
}

// validateEndpointIP checks an address of the slice's family that a client
// could be sent to: not unspecified, loopback or link-local.
func validateEndpointIP(fldPath *field.Path, addr string, ipv6 bool) field.ErrorList {
	errs := validation.IsValidIPForLegacyField(fldPath, addr, true, nil)
	if len(errs) > 0 {
		return errs
	}
	ip := net.ParseIP(addr)
	if ipv6 && ip.To4() != nil {
		return field.ErrorList{field.Invalid(fldPath, addr, "must be an IPv6 address")}
	}
	if !ipv6 && ip.To4() == nil {
		return field.ErrorList{field.Invalid(fldPath, addr, "must be an IPv4 address")}
	}
	if ip.IsUnspecified() {
		errs = append(errs, field.Invalid(fldPath, addr, fmt.Sprintf("may not be unspecified (%v)", addr)))
	}
	if ip.IsLoopback() {
		errs = append(errs, field.Invalid(fldPath, addr, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if ip.IsLinkLocalUnicast() {
		errs = append(errs, field.Invalid(fldPath, addr, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if ip.IsLinkLocalMulticast() {
		errs = append(errs, field.Invalid(fldPath, addr, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return errs
}

func validateHints(hints *discoveryv1.EndpointHints, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	zonesPath := fldPath.Child("forZones")
	if len(hints.ForZones) > maxZoneHints {
		errs = append(errs, field.TooMany(zonesPath, len(hints.ForZones), maxZoneHints))
	} else {
		seen := map[string]bool{}
		for i, z := range hints.ForZones {
			p := zonesPath.Index(i).Child("name")
			if seen[z.Name] {
				errs = append(errs, field.Duplicate(p, z.Name))
			}
			seen[z.Name] = true
			for _, msg := range content.IsLabelValue(z.Name) {
				errs = append(errs, field.Invalid(p, z.Name, msg))
			}
		}
	}
	nodesPath := fldPath.Child("forNodes")
	if len(hints.ForNodes) > maxNodeHints {
		errs = append(errs, field.TooMany(nodesPath, len(hints.ForNodes), maxNodeHints))
	} else {
		seen := map[string]bool{}
		for i, n := range hints.ForNodes {
			p := nodesPath.Index(i).Child("name")
			if seen[n.Name] {
				errs = append(errs, field.Duplicate(p, n.Name))
			}
			seen[n.Name] = true
			for _, msg := range apivalidation.NameIsDNSSubdomain(n.Name, false) {
				errs = append(errs, field.Invalid(p, n.Name, msg))
			}
		}
	}
	return errs
}

func validatePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > maxPorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), maxPorts)}
	}
	var errs field.ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		idxPath := fldPath.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			for _, msg := range content.IsDNS1123Label(name) {
				errs = append(errs, field.Invalid(idxPath.Child("name"), name, msg))
			}
		}
		if names[name] {
			errs = append(errs, field.Duplicate(idxPath.Child("name"), name))
		}
		names[name] = true
		if port.Protocol == nil {
			errs = append(errs, field.Required(idxPath.Child("protocol"), ""))
		} else if !slices.Contains(portProtocols, string(*port.Protocol)) {
			errs = append(errs, field.NotSupported(idxPath.Child("protocol"), *port.Protocol, portProtocols))
		}
		if port.AppProtocol != nil {
			for _, msg := range content.IsLabelKey(*port.AppProtocol) {
				errs = append(errs, field.Invalid(idxPath.Child("appProtocol"), *port.AppProtocol, msg))
			}
		}
	}
	return errs
}
