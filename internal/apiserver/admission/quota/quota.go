// Package quota builds kube-apiserver's resource admission plugins:
// LimitRanger (k8s.io/kubernetes: default requests and limits, min/max per
// container and pod, run on Kubernetes' internal types through the upstream
// adapter) and ResourceQuota (k8s.io/apiserver, with Kubernetes' core
// evaluators: object counts and compute resources, extended ones such as
// requests.nvidia.com/gpu included).
package quota

import (
	"fmt"

	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/resourcequota"
	resourcequotaapi "k8s.io/apiserver/pkg/admission/plugin/resourcequota/apis/resourcequota"
	"k8s.io/apiserver/pkg/quota/v1/generic"
	"k8s.io/apiserver/pkg/server/storage"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubernetes/pkg/quota/v1/evaluator/core"
	quotainstall "k8s.io/kubernetes/pkg/quota/v1/install"
	"k8s.io/kubernetes/plugin/pkg/admission/limitranger"

	"skiff.dev/skiff/internal/apiserver/admission/upstream"
)

// evaluatorWorkers is how many quota evaluations run at once, as
// kube-apiserver's ResourceQuota plugin.
const evaluatorWorkers = 5

// NewLimitRanger returns the LimitRanger admission plugin reading the
// LimitRanges of factory.
func NewLimitRanger(client kubernetes.Interface, factory informers.SharedInformerFactory) (admission.Interface, error) {
	p, err := limitranger.NewLimitRanger(&limitranger.DefaultLimitRangerActions{})
	if err != nil {
		return nil, fmt.Errorf("%s admission: %w", limitranger.PluginName, err)
	}
	p.SetExternalKubeClientSet(client)
	p.SetExternalKubeInformerFactory(factory)
	if err := p.ValidateInitialization(); err != nil {
		return nil, fmt.Errorf("%s admission: %w", limitranger.PluginName, err)
	}
	return upstream.Plugin{Upstream: p}, nil
}

// NewResourceQuota returns the ResourceQuota admission plugin over the
// served resources (enabled): it refuses what would exceed a quota and
// charges what it admits to the quota's status. drained closes when the
// server has drained its requests.
func NewResourceQuota(client kubernetes.Interface, factory informers.SharedInformerFactory, enabled storage.APIResourceConfigSource, drained <-chan struct{}) (admission.Interface, error) {
	p, err := resourcequota.NewResourceQuota(&resourcequotaapi.Configuration{}, evaluatorWorkers)
	if err != nil {
		return nil, fmt.Errorf("%s admission: %w", resourcequota.PluginName, err)
	}
	evaluators, err := core.NewEvaluators(nil, factory, enabled.ResourceEnabled)
	if err != nil {
		return nil, fmt.Errorf("%s admission: %w", resourcequota.PluginName, err)
	}
	p.SetDrainedNotification(drained)
	p.SetExternalKubeClientSet(client)
	p.SetExternalKubeInformerFactory(factory)
	p.SetQuotaConfiguration(generic.NewConfiguration(evaluators, quotainstall.DefaultIgnoredResources()))
	if err := p.ValidateInitialization(); err != nil {
		return nil, fmt.Errorf("%s admission: %w", resourcequota.PluginName, err)
	}
	return p, nil
}
