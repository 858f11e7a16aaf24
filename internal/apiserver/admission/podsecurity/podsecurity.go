// Package podsecurity is Kubernetes' PodSecurity admission on skiff's API
// server: k8s.io/pod-security-admission's admission and policy evaluator
// applied to pods, pod templates and namespaces by the namespace labels
// pod-security.kubernetes.io/enforce, audit and warn (and their -version
// labels). Namespaces without labels get privileged:latest, as
// kube-apiserver's default configuration; there are no exemptions.
//
// skiff's API server hands admission the k8s.io/api types themselves, so
// the library's pod spec extraction reads them directly, with none of the
// internal-to-v1 conversion kube-apiserver's plugin needs.
package podsecurity

import (
	"context"
	"errors"
	"fmt"
	"sync"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/warning"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-base/metrics/legacyregistry"
	psadmission "k8s.io/pod-security-admission/admission"
	psconfig "k8s.io/pod-security-admission/admission/api/load"
	psapi "k8s.io/pod-security-admission/api"
	psmetrics "k8s.io/pod-security-admission/metrics"
	"k8s.io/pod-security-admission/policy"
)

// Plugin validates creations and updates against the Pod Security
// Standards their namespace asks for.
type Plugin struct {
	*admission.Handler
	delegate *psadmission.Admission
}

var _ admission.ValidationInterface = &Plugin{}

// New returns the plugin reading namespaces and pods through informers
// (namespaces the informer has not seen yet through client). The informers
// are registered on factory; whoever owns it starts them.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) (*Plugin, error) {
	config, err := psconfig.LoadFromData(nil)
	if err != nil {
		return nil, fmt.Errorf("pod security defaults: %w", err)
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, fmt.Errorf("pod security evaluator: %w", err)
	}
	namespaces := factory.Core().V1().Namespaces()
	delegate := &psadmission.Admission{
		Configuration:    config,
		Evaluator:        evaluator,
		Metrics:          recorder(),
		PodSpecExtractor: psadmission.DefaultPodSpecExtractor{},
		NamespaceGetter:  psadmission.NamespaceGetterFromListerAndClient(namespaces.Lister(), client),
		PodLister:        psadmission.PodListerFromInformer(factory.Core().V1().Pods().Lister()),
	}
	if err := delegate.CompleteConfiguration(); err != nil {
		return nil, fmt.Errorf("pod security configuration: %w", err)
	}
	if err := delegate.ValidateConfiguration(); err != nil {
		return nil, fmt.Errorf("pod security configuration: %w", err)
	}
	p := &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update), delegate: delegate}
	p.SetReadyFunc(namespaces.Informer().HasSynced)
	return p, nil
}

var (
	metricsOnce sync.Once
	processRec  *psmetrics.PrometheusRecorder
)

// recorder is the process's PodSecurity metrics recorder, registered once
// in the registry every API server of the process serves at /metrics.
func recorder() psmetrics.Recorder {
	metricsOnce.Do(func() {
		processRec = psmetrics.NewPrometheusRecorder(psapi.GetAPIVersion())
		processRec.MustRegister(legacyregistry.MustRegister)
	})
	return processRec
}

// Validate evaluates pods, pod templates and namespaces: warnings go to
// the client, audit annotations to the audit event, and an enforce
// violation is the request's Forbidden error.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	gr := a.GetResource().GroupResource()
	if gr != corev1.Resource("pods") && gr != corev1.Resource("namespaces") && !p.delegate.PodSpecExtractor.HasPodSpec(gr) {
		return nil
	}
	result := p.delegate.Validate(ctx, attributes{a})
	for _, w := range result.Warnings {
		warning.AddWarning(ctx, "", w)
	}
	for k, v := range result.AuditAnnotations {
		audit.AddAuditAnnotation(ctx, psapi.AuditAnnotationPrefix+k, v)
	}
	if result.Allowed {
		return nil
	}
	return forbidden(a, result)
}

// forbidden is the Status error of a refused request: the library's
// message, reason, details and code over a generic Forbidden.
func forbidden(a admission.Attributes, result *admissionv1.AdmissionResponse) error {
	//lint:ignore ST1005 kube-apiserver's message
	generic := admission.NewForbidden(a, errors.New("Not allowed by PodSecurity"))
	var err *apierrors.StatusError
	if !errors.As(generic, &err) {
		return generic
	}
	if r := result.Result; r != nil {
		if r.Message != "" {
			err.ErrStatus.Message = r.Message
		}
		if r.Reason != "" {
			err.ErrStatus.Reason = r.Reason
		}
		if r.Details != nil {
			err.ErrStatus.Details = r.Details
		}
		if r.Code != 0 {
			err.ErrStatus.Code = r.Code
		}
	}
	return err
}

// attributes presents a request to the library: its objects are already
// the v1 types it expects.
type attributes struct{ admission.Attributes }

var _ psapi.Attributes = attributes{}

func (a attributes) GetObject() (runtime.Object, error) { return a.Attributes.GetObject(), nil }

func (a attributes) GetOldObject() (runtime.Object, error) { return a.Attributes.GetOldObject(), nil }

func (a attributes) GetOperation() admissionv1.Operation {
	return admissionv1.Operation(a.Attributes.GetOperation())
}

func (a attributes) GetUserName() string {
	if u := a.GetUserInfo(); u != nil {
		return u.GetName()
	}
	return ""
}
