// Package podsub serves the subresources of pods that are not plain reads and
// writes of the Pod object: binding (the scheduler's placement), eviction,
// ephemeralcontainers (kubectl debug), resize (in-place vertical scaling),
// and the streaming endpoints (log, exec, attach, portforward) that reach
// the node agent.
package podsub

import (
	"context"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	policyclient "k8s.io/client-go/kubernetes/typed/policy/v1"
)

// Config is what the pod subresources work on.
type Config struct {
	// Pods is the pods store.
	Pods *genericregistry.Store
	// Nodes reads nodes: where a pod's kubelet server is.
	Nodes rest.Getter
	// KubeletTransport reaches the node agents' kubelet servers over HTTPS
	// with the API server's kubelet client certificate (see
	// KubeletTransport); nil makes log, exec, attach and portforward answer
	// 503.
	KubeletTransport http.RoundTripper
	// KubeletInsecureTransport, when set, reads pods/log with
	// insecureSkipTLSVerifyBackend: it does not verify the kubelet's
	// serving certificate.
	KubeletInsecureTransport http.RoundTripper
	// Budgets reads and updates PodDisruptionBudgets for evictions (a
	// loopback client, as kube-apiserver's); nil lets every eviction
	// through.
	Budgets policyclient.PodDisruptionBudgetsGetter
}

// Storage returns the pod subresources keyed by path.
func Storage(cfg Config) map[string]rest.Storage {
	k := kubelet{loc: locator{pods: cfg.Pods, nodes: cfg.Nodes}, transport: cfg.KubeletTransport, insecure: cfg.KubeletInsecureTransport}
	return map[string]rest.Storage{
		"pods/binding":     &BindingREST{pods: cfg.Pods},
		"pods/eviction":    &EvictionREST{pods: cfg.Pods, budgets: cfg.Budgets},
		"pods/log":         &LogREST{kubelet: k},
		"pods/exec":        &ExecREST{kubelet: k},
		"pods/attach":      &AttachREST{kubelet: k},
		"pods/portforward": &PortForwardREST{kubelet: k},
		// Written by kubectl debug; started by the kubelet.
		"pods/ephemeralcontainers": ephemeralContainersREST(cfg.Pods),
		// In-place vertical scaling; carried out by the kubelet.
		"pods/resize": resizeREST(cfg.Pods),
	}
}

// BindingREST assigns a pod to a node (POST pods/NAME/binding).
type BindingREST struct {
	pods *genericregistry.Store
}

var _ rest.NamedCreater = &BindingREST{}

// New implements rest.Storage.
func (r *BindingREST) New() runtime.Object { return &corev1.Binding{} }

// Destroy implements rest.Storage.
func (r *BindingREST) Destroy() {}

// Create binds the pod to the node named by the binding's target, once: a pod
// already on a node keeps it (409), as in Kubernetes.
func (r *BindingREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	binding, ok := obj.(*corev1.Binding)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a Binding object: %T", obj))
	}
	if name != binding.Name {
		return nil, apierrors.NewBadRequest("name in URL does not match name in Binding object")
	}
	if createValidation != nil {
		if err := createValidation(ctx, binding.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if binding.Target.Kind != "" && binding.Target.Kind != "Node" {
		return nil, apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, name, nil)
	}
	node := binding.Target.Name
	if node == "" {
		return nil, apierrors.NewBadRequest("binding target node name is required")
	}
	key, kerr := r.pods.KeyFunc(ctx, name)
	if kerr != nil {
		return nil, kerr
	}
	update := func(oldObj runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
		pod, err := func() (*corev1.Pod, error) {
			pod := oldObj.(*corev1.Pod).DeepCopy()
			if pod.DeletionTimestamp != nil {
				return nil, apierrors.NewConflict(corev1.Resource("pods/binding"), name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", name))
			}
			if pod.Spec.NodeName != "" {
				return nil, apierrors.NewConflict(corev1.Resource("pods/binding"), name, fmt.Errorf("pod %s is already assigned to node %q", name, pod.Spec.NodeName))
			}
			if binding.UID != "" && binding.UID != pod.UID {
				return nil, apierrors.NewConflict(corev1.Resource("pods/binding"), name, fmt.Errorf("the UID in the binding %s does not match the pod's %s", binding.UID, pod.UID))
			}
			pod.Spec.NodeName = node
			for k, v := range binding.Annotations {
				if pod.Annotations == nil {
					pod.Annotations = map[string]string{}
				}
				pod.Annotations[k] = v
			}
			setCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
			return pod, nil
		}()
		return pod, nil, err
	}
	if err := r.pods.Storage.GuaranteedUpdate(ctx, key, &corev1.Pod{}, false, nil, update, len(options.DryRun) > 0, nil); err != nil {
		return nil, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated}, nil
}

func setCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			pod.Status.Conditions[i] = c
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}
