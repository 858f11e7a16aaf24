package networking

import (
	"fmt"
	"net"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxLenIngressClassController is the longest spec.controller allowed.
const maxLenIngressClassController = 250

var (
	// Sorted, as Kubernetes lists them in NotSupported errors.
	pathTypes = []string{
		string(networkingv1.PathTypeExact),
		string(networkingv1.PathTypeImplementationSpecific),
		string(networkingv1.PathTypePrefix),
	}
	parametersScopes = []string{
		networkingv1.IngressClassParametersReferenceScopeCluster,
		networkingv1.IngressClassParametersReferenceScopeNamespace,
	}
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
)

// ingressOptions relax validation on update for data Kubernetes used to
// accept, so that stored objects stay writable.
type ingressOptions struct {
	allowInvalidSecretName       bool
	allowInvalidWildcardHostRule bool
}

func validateIngressCreate(ing *networkingv1.Ingress) field.ErrorList {
	errs := validateIngressSpec(&ing.Spec, field.NewPath("spec"), ingressOptions{})
	if class, ok := ing.Annotations[IngressClassAnnotation]; ok && ing.Spec.IngressClassName != nil && class != *ing.Spec.IngressClassName {
		errs = append(errs, field.Invalid(field.NewPath("annotations").Child(IngressClassAnnotation), class,
			"must match `ingressClassName` when both are specified"))
	}
	return errs
}

func validateIngressUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	opts := ingressOptions{
		allowInvalidSecretName:       hasInvalidSecretName(old),
		allowInvalidWildcardHostRule: hasInvalidWildcardHostRule(old),
	}
	return validateIngressSpec(&ing.Spec, field.NewPath("spec"), opts)
}

func validateIngressSpec(spec *networkingv1.IngressSpec, fldPath *field.Path, opts ingressOptions) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		errs = append(errs, field.Invalid(fldPath, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(spec.DefaultBackend, fldPath.Child("defaultBackend"))...)
	}
	if len(spec.Rules) > 0 {
		errs = append(errs, validateIngressRules(spec.Rules, fldPath.Child("rules"), opts)...)
	}
	if len(spec.TLS) > 0 {
		errs = append(errs, validateIngressTLS(spec.TLS, fldPath.Child("tls"), opts)...)
	}
	if spec.IngressClassName != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(*spec.IngressClassName, false) {
			errs = append(errs, field.Invalid(fldPath.Child("ingressClassName"), *spec.IngressClassName, msg))
		}
	}
	return errs
}

func validateIngressTLS(tls []networkingv1.IngressTLS, fldPath *field.Path, opts ingressOptions) field.ErrorList {
	var errs field.ErrorList
	for i, t := range tls {
		for j, host := range t.Hosts {
			errs = append(errs, validateHost(host, fldPath.Index(i).Child("hosts").Index(j))...)
		}
		if !opts.allowInvalidSecretName {
			for _, msg := range secretNameErrors(t.SecretName) {
				errs = append(errs, field.Invalid(fldPath.Index(i).Child("secretName"), t.SecretName, msg))
			}
		}
	}
	return errs
}

// validateHost checks a DNS name, where a leading "*." wildcard is allowed.
func validateHost(host string, fldPath *field.Path) field.ErrorList {
	var msgs []string
	if strings.Contains(host, "*") {
		msgs = validation.IsWildcardDNS1123Subdomain(host)
	} else {
		msgs = validation.IsDNS1123Subdomain(host)
	}
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(fldPath, host, msg))
	}
	return errs
}

func secretNameErrors(name string) []string {
	if name == "" {
		return nil
	}
	return apivalidation.NameIsDNSSubdomain(name, false)
}

func validateIngressRules(rules []networkingv1.IngressRule, fldPath *field.Path, opts ingressOptions) field.ErrorList {
	var errs field.ErrorList
	for i := range rules {
		rule := &rules[i]
		wildcard := false
		if rule.Host != "" {
			hostPath := fldPath.Index(i).Child("host")
			if net.ParseIP(rule.Host) != nil {
				errs = append(errs, field.Invalid(hostPath, rule.Host, "must be a DNS name, not an IP address"))
			}
			wildcard = strings.Contains(rule.Host, "*")
			errs = append(errs, validateHost(rule.Host, hostPath)...)
		}
		if !wildcard || !opts.allowInvalidWildcardHostRule {
			errs = append(errs, validateIngressRuleValue(&rule.IngressRuleValue, fldPath.Index(i))...)
		}
	}
	return errs
}

func validateIngressRuleValue(rule *networkingv1.IngressRuleValue, fldPath *field.Path) field.ErrorList {
	if rule.HTTP == nil {
		return nil
	}
	httpPath := fldPath.Child("http")
	var errs field.ErrorList
	if len(rule.HTTP.Paths) == 0 {
		errs = append(errs, field.Required(httpPath.Child("paths"), ""))
	}
	for i := range rule.HTTP.Paths {
		errs = append(errs, validateHTTPIngressPath(&rule.HTTP.Paths[i], httpPath.Child("paths").Index(i))...)
	}
	return errs
}

func validateHTTPIngressPath(path *networkingv1.HTTPIngressPath, fldPath *field.Path) field.ErrorList {
	if path.PathType == nil {
		return field.ErrorList{field.Required(fldPath.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	switch *path.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(path.Path, "/") {
			errs = append(errs, field.Invalid(fldPath.Child("path"), path.Path, "must be an absolute path"))
		}
		if path.Path != "" {
			for _, seq := range invalidPathSequences {
				if strings.Contains(path.Path, seq) {
					errs = append(errs, field.Invalid(fldPath.Child("path"), path.Path, fmt.Sprintf("must not contain '%s'", seq)))
				}
			}
			for _, suffix := range invalidPathSuffixes {
				if strings.HasSuffix(path.Path, suffix) {
					errs = append(errs, field.Invalid(fldPath.Child("path"), path.Path, fmt.Sprintf("cannot end with '%s'", suffix)))
				}
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if path.Path != "" && !strings.HasPrefix(path.Path, "/") {
			errs = append(errs, field.Invalid(fldPath.Child("path"), path.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("pathType"), *path.PathType, pathTypes))
	}
	return append(errs, validateIngressBackend(&path.Backend, fldPath.Child("backend"))...)
}

func validateIngressBackend(backend *networkingv1.IngressBackend, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case backend.Resource != nil && backend.Service != nil:
		return field.ErrorList{field.Invalid(fldPath, "", "cannot set both resource and service backends")}
	case backend.Resource != nil:
		r := backend.Resource
		errs = append(errs, validateTypedReference(r.APIGroup, r.Kind, r.Name, fldPath.Child("resource"))...)
	case backend.Service != nil:
		svc := backend.Service
		namePath := fldPath.Child("service", "name")
		if svc.Name == "" {
			errs = append(errs, field.Required(namePath, ""))
		} else {
			for _, msg := range apivalidation.NameIsDNS1035Label(svc.Name, false) {
				errs = append(errs, field.Invalid(namePath, svc.Name, msg))
			}
		}
		hasName, hasNumber := svc.Port.Name != "", svc.Port.Number != 0
		switch {
		case hasName && hasNumber:
			errs = append(errs, field.Invalid(fldPath, "", "cannot set both port name & port number"))
		case hasName:
			for _, msg := range validation.IsValidPortName(svc.Port.Name) {
				errs = append(errs, field.Invalid(fldPath.Child("service", "port", "name"), svc.Port.Name, msg))
			}
		case hasNumber:
			for _, msg := range validation.IsValidPortNum(int(svc.Port.Number)) {
				errs = append(errs, field.Invalid(fldPath.Child("service", "port", "number"), svc.Port.Number, msg))
			}
		default:
			errs = append(errs, field.Required(fldPath, "port name or number is required"))
		}
	default:
		errs = append(errs, field.Invalid(fldPath, "", "resource or service backend is required"))
	}
	return errs
}

// validateTypedReference checks a reference to a resource by API group,
// kind and name, as Kubernetes does for resource backends and class
// parameters.
func validateTypedReference(apiGroup *string, kind, name string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if apiGroup != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*apiGroup) {
			errs = append(errs, field.Invalid(fldPath.Child("apiGroup"), *apiGroup, msg))
		}
	}
	if kind == "" {
		errs = append(errs, field.Required(fldPath.Child("kind"), "kind is required"))
	} else {
		for _, msg := range content.IsPathSegmentName(kind) {
			errs = append(errs, field.Invalid(fldPath.Child("kind"), kind, msg))
		}
	}
	if name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), "name is required"))
	} else {
		for _, msg := range content.IsPathSegmentName(name) {
			errs = append(errs, field.Invalid(fldPath.Child("name"), name, msg))
		}
	}
	return errs
}

func validateIngressLoadBalancerStatus(status *networkingv1.IngressLoadBalancerStatus, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ing := range status.Ingress {
		idxPath := fldPath.Child("ingress").Index(i)
		if ing.IP != "" {
			errs = append(errs, validation.IsValidIPForLegacyField(idxPath.Child("ip"), ing.IP, true, nil)...)
		}
		if ing.Hostname != "" {
			for _, msg := range validation.IsDNS1123Subdomain(ing.Hostname) {
				errs = append(errs, field.Invalid(idxPath.Child("hostname"), ing.Hostname, msg))
			}
			if net.ParseIP(ing.Hostname) != nil {
				errs = append(errs, field.Invalid(idxPath.Child("hostname"), ing.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}

func hasInvalidSecretName(old *networkingv1.Ingress) bool {
	for _, t := range old.Spec.TLS {
		if len(secretNameErrors(t.SecretName)) > 0 {
			return true
		}
	}
	return false
}

func hasInvalidWildcardHostRule(old *networkingv1.Ingress) bool {
	for i := range old.Spec.Rules {
		rule := &old.Spec.Rules[i]
		if strings.Contains(rule.Host, "*") && len(validateIngressRuleValue(&rule.IngressRuleValue, nil)) > 0 {
			return true
		}
	}
	return false
}

func validateIngressClassSpec(spec *networkingv1.IngressClassSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Controller) > maxLenIngressClassController {
		errs = append(errs, field.TooLong(fldPath.Child("controller"), "", maxLenIngressClassController))
	}
	errs = append(errs, validation.IsDomainPrefixedPath(fldPath.Child("controller"), spec.Controller)...)
	if p := spec.Parameters; p != nil {
		paramsPath := fldPath.Child("parameters")
		errs = append(errs, validateTypedReference(p.APIGroup, p.Kind, p.Name, paramsPath)...)
		if p.Scope == nil {
			return append(errs, field.Required(paramsPath.Child("scope"), ""))
		}
		switch *p.Scope {
		case networkingv1.IngressClassParametersReferenceScopeNamespace:
			if p.Namespace == nil {
				errs = append(errs, field.Required(paramsPath.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
			} else {
				for _, msg := range apivalidation.NameIsDNSLabel(*p.Namespace, false) {
					errs = append(errs, field.Invalid(paramsPath.Child("namespace"), *p.Namespace, msg))
				}
			}
		case networkingv1.IngressClassParametersReferenceScopeCluster:
			if p.Namespace != nil {
				errs = append(errs, field.Forbidden(paramsPath.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
			}
		default:
			errs = append(errs, field.NotSupported(paramsPath.Child("scope"), *p.Scope, parametersScopes))
		}
	}
	return errs
}
