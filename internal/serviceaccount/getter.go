package serviceaccount

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// StoreGetter reads the objects tokens are checked against straight from
// the API server's stores (k8s.io/kubernetes/pkg/serviceaccount's
// ServiceAccountTokenGetter). A nil store finds nothing. Reads are served
// from the watch cache, and read again from etcd when the cache does not
// have the object yet (one just created).
type StoreGetter struct {
	ServiceAccounts, Pods, Secrets, Nodes rest.Getter
}

// GetServiceAccount implements ServiceAccountTokenGetter.
func (g *StoreGetter) GetServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	return get[*corev1.ServiceAccount](ctx, g.ServiceAccounts, "serviceaccounts", namespace, name)
}

// GetPod implements ServiceAccountTokenGetter.
func (g *StoreGetter) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	return get[*corev1.Pod](ctx, g.Pods, "pods", namespace, name)
}

// GetSecret implements ServiceAccountTokenGetter.
func (g *StoreGetter) GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return get[*corev1.Secret](ctx, g.Secrets, "secrets", namespace, name)
}

// GetNode implements ServiceAccountTokenGetter.
func (g *StoreGetter) GetNode(ctx context.Context, name string) (*corev1.Node, error) {
	return get[*corev1.Node](ctx, g.Nodes, "nodes", "", name)
}

// GetValidatingWebhookConfiguration implements ServiceAccountTokenGetter:
// skiff serves no webhook configurations.
func (g *StoreGetter) GetValidatingWebhookConfiguration(_ context.Context, name string) (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	return nil, apierrors.NewNotFound(admissionregistrationv1.Resource("validatingwebhookconfigurations"), name)
}

// GetMutatingWebhookConfiguration implements ServiceAccountTokenGetter:
// skiff serves no webhook configurations.
func (g *StoreGetter) GetMutatingWebhookConfiguration(_ context.Context, name string) (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
	return nil, apierrors.NewNotFound(admissionregistrationv1.Resource("mutatingwebhookconfigurations"), name)
}

func get[T runtime.Object](ctx context.Context, getter rest.Getter, resource, namespace, name string) (T, error) {
	var zero T
	if getter == nil {
		return zero, apierrors.NewNotFound(schema.GroupResource{Resource: resource}, name)
	}
	ctx = ReadContext(ctx, resource, namespace, name)
	obj, err := getter.Get(ctx, name, &metav1.GetOptions{ResourceVersion: "0"})
	if apierrors.IsNotFound(err) {
		obj, err = getter.Get(ctx, name, &metav1.GetOptions{})
	}
	if err != nil {
		return zero, err
	}
	t, ok := obj.(T)
	if !ok {
		return zero, fmt.Errorf("%s %s: got a %T", resource, name, obj)
	}
	return t, nil
}

// ReadContext is ctx for a read of a core/v1 object through a store: the
// store names the resource of its errors after the request in ctx, which
// is that of another resource.
func ReadContext(ctx context.Context, resource, namespace, name string) context.Context {
	ctx = genericapirequest.WithNamespace(ctx, namespace)
	return genericapirequest.WithRequestInfo(ctx, &genericapirequest.RequestInfo{
		IsResourceRequest: true, Verb: "get", APIPrefix: "api", APIVersion: "v1",
		Resource: resource, Name: name, Namespace: namespace,
	})
}
