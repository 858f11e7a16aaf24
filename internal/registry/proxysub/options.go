package proxysub

import (
	"fmt"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
)

// RegisterConversions adds to scheme the conversions from a request's query
// parameters to the options of services/proxy, pods/proxy and nodes/proxy
// (their one field, path, which the API server fills from the URL).
func RegisterConversions(scheme *runtime.Scheme) error {
	for _, c := range []struct {
		out any
		fn  conversion.ConversionFunc
	}{
		{(*corev1.ServiceProxyOptions)(nil), func(a, b any, _ conversion.Scope) error {
			return pathParam(a.(*url.Values), &b.(*corev1.ServiceProxyOptions).Path)
		}},
		{(*corev1.PodProxyOptions)(nil), func(a, b any, _ conversion.Scope) error {
			return pathParam(a.(*url.Values), &b.(*corev1.PodProxyOptions).Path)
		}},
		{(*corev1.NodeProxyOptions)(nil), func(a, b any, _ conversion.Scope) error {
			return pathParam(a.(*url.Values), &b.(*corev1.NodeProxyOptions).Path)
		}},
	} {
		if err := scheme.AddConversionFunc((*url.Values)(nil), c.out, c.fn); err != nil {
			return fmt.Errorf("proxy options conversion: %w", err)
		}
	}
	return nil
}

func pathParam(in *url.Values, out *string) error {
	if v, ok := (*in)["path"]; ok && len(v) > 0 {
		return runtime.Convert_Slice_string_To_string(&v, out, nil)
	}
	return nil
}
