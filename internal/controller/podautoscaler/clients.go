package podautoscaler

import (
	"fmt"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/record"
)

// NewForConfig is New with the clients of a real cluster made from cfg: a
// discovery REST mapper (reset when a kind is not found), the scale client
// of k8s.io/client-go/scale, and APIMetrics. Scale and metrics requests are
// JSON, whatever content type cfg asks for.
func NewForConfig(cfg *rest.Config, client kubernetes.Interface, factory informers.SharedInformerFactory,
	recorder record.EventRecorder, opts Options) (*Controller, error) {
	scales, mapper, err := NewScaleClient(cfg, client.Discovery())
	if err != nil {
		return nil, err
	}
	metrics, err := NewAPIMetrics(cfg, client.Discovery(), mapper)
	if err != nil {
		return nil, err
	}
	c := New(client, scales, mapper, metrics, factory, recorder, opts)
	c.background = append(c.background, metrics.Run)
	return c, nil
}

// NewScaleClient is the scale subresource client of k8s.io/client-go/scale
// (JSON) and the discovery REST mapper it and the controller use.
func NewScaleClient(cfg *rest.Config, disc discovery.DiscoveryInterface) (scale.ScalesGetter, *restmapper.DeferredDiscoveryRESTMapper, error) {
	jsonCfg := rest.CopyConfig(cfg)
	jsonCfg.ContentType, jsonCfg.AcceptContentTypes = "application/json", "application/json"
	cached := memory.NewMemCacheClient(disc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	scales, err := scale.NewForConfig(jsonCfg, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(cached))
	if err != nil {
		return nil, nil, fmt.Errorf("scale client: %w", err)
	}
	return scales, mapper, nil
}
