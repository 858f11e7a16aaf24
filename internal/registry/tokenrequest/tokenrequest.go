// Package tokenrequest serves the TokenRequest API
// (serviceaccounts/NAME/token, authentication.k8s.io/v1 TokenRequest) as
// kube-apiserver does: a bound, expiring token for the service account,
// signed by the API server's service account issuer.
package tokenrequest

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/warning"

	"skiff.dev/skiff/internal/serviceaccount"
)

// Expiration bounds and default of requested tokens, as Kubernetes
// validates and defaults them.
const (
	MinExpirationSeconds     = 600
	MaxExpirationSeconds     = 1 << 32
	DefaultExpirationSeconds = 3600
)

var gvk = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")

// REST serves serviceaccounts/token.
type REST struct {
	// ServiceAccounts, Pods, Secrets and Nodes read the objects a token
	// is for and bound to.
	ServiceAccounts, Pods, Secrets, Nodes rest.Getter
	Issuer                                *serviceaccount.Issuer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

var (
	_ rest.NamedCreater                   = &REST{}
	_ rest.GroupVersionKindProvider       = &REST{}
	_ rest.SubresourceObjectMetaPreserver = &REST{}
)

// New implements rest.Storage.
func (r *REST) New() runtime.Object { return &authenticationv1.TokenRequest{} }

// Destroy implements rest.Storage.
func (r *REST) Destroy() {}

// GroupVersionKind implements rest.GroupVersionKindProvider.
func (r *REST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind { return gvk }

// PreserveRequestObjectMetaSystemFieldsOnSubresourceCreate implements
// rest.SubresourceObjectMetaPreserver: the request's UID names the service
// account it expects.
func (r *REST) PreserveRequestObjectMetaSystemFieldsOnSubresourceCreate() bool { return true }

// Create issues a token for service account name.
func (r *REST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*authenticationv1.TokenRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a TokenRequest: %T", obj))
	}
	namespace, ok := genericapirequest.NamespaceFrom(ctx)
	if !ok || namespace == "" {
		return nil, apierrors.NewBadRequest("namespace is required")
	}
	if req.Name != "" && req.Name != name {
		return nil, apierrors.NewInvalid(gvk.GroupKind(), name, field.ErrorList{
			field.Invalid(field.NewPath("metadata", "name"), req.Name, "must match the service account name if specified")})
	}
	if req.Namespace != "" && req.Namespace != namespace {
		return nil, apierrors.NewInvalid(gvk.GroupKind(), name, field.ErrorList{
			field.Invalid(field.NewPath("metadata", "namespace"), req.Namespace, "must match the service account namespace if specified")})
	}
	saObj, err := r.ServiceAccounts.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	sa := saObj.(*corev1.ServiceAccount)
	if req.UID != "" && req.UID != sa.UID {
		return nil, apierrors.NewConflict(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, name,
			fmt.Errorf("the UID in the token request (%s) does not match the UID of the service account (%s)", req.UID, sa.UID))
	}

	req = req.DeepCopy()
	if len(req.Spec.Audiences) == 0 {
		req.Spec.Audiences = r.Issuer.Audiences()
	}
	if req.Spec.ExpirationSeconds == nil {
		seconds := int64(DefaultExpirationSeconds)
		req.Spec.ExpirationSeconds = &seconds
	}
	req.Name, req.Namespace, req.UID = sa.Name, sa.Namespace, sa.UID
	now := r.now()
	req.CreationTimestamp = metav1.NewTime(now)
	req.Status = authenticationv1.TokenRequestStatus{}
	if errs := Validate(&req.Spec); len(errs) > 0 {
		return nil, apierrors.NewInvalid(gvk.GroupKind(), "", errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, req.DeepCopyObject()); err != nil {
			return nil, err
		}
	}

	binding, err := r.bind(ctx, name, namespace, req.Spec.BoundObjectRef)
	if err != nil {
		return nil, err
	}
	if max := int64(r.Issuer.MaxExpiration() / time.Second); max > 0 && *req.Spec.ExpirationSeconds > max {
		warning.AddWarning(ctx, "", fmt.Sprintf("requested expiration of %d seconds shortened to %d seconds", *req.Spec.ExpirationSeconds, max))
		req.Spec.ExpirationSeconds = &max
	}
	token, err := r.Issuer.Issue(ctx, sa, binding, *req.Spec.ExpirationSeconds, req.Spec.Audiences)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("failed to generate token: %w", err))
	}
	req.Status = authenticationv1.TokenRequestStatus{
		Token:               token,
		ExpirationTimestamp: metav1.NewTime(now.Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second)),
	}
	return req, nil
}

// Validate is Kubernetes' validation of a TokenRequest's spec (after
// defaulting).
func Validate(spec *authenticationv1.TokenRequestSpec) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("spec", "expirationSeconds")
	if seconds := spec.ExpirationSeconds; seconds != nil {
		if *seconds < MinExpirationSeconds {
			errs = append(errs, field.Invalid(path, *seconds, "may not specify a duration less than 10 minutes"))
		}
		if *seconds > MaxExpirationSeconds {
			errs = append(errs, field.Invalid(path, *seconds, "may not specify a duration larger than 2^32 seconds"))
		}
	}
	return errs
}

// bind reads the object a token is to be bound to, checking it is the one
// the reference names (kind, UID) and, for a pod, that it runs as the
// service account.
func (r *REST) bind(ctx context.Context, sa, namespace string, ref *authenticationv1.BoundObjectReference) (serviceaccount.Binding, error) {
	var b serviceaccount.Binding
	if ref == nil {
		return b, nil
	}
	refGVK := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	var uid types.UID
	switch {
	case refGVK.Group == "" && refGVK.Kind == "Pod":
		obj, err := r.Pods.Get(serviceaccount.ReadContext(ctx, "pods", namespace, ref.Name), ref.Name, &metav1.GetOptions{})
		if err != nil {
			return b, err
		}
		b.Pod = obj.(*corev1.Pod)
		if b.Pod.Spec.ServiceAccountName != sa {
			return b, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", sa))
		}
		uid = b.Pod.UID
		if node := b.Pod.Spec.NodeName; node != "" {
			b.Node, err = r.node(ctx, node)
			if err != nil {
				return b, err
			}
		}
	case refGVK.Group == "" && refGVK.Kind == "Secret":
		obj, err := r.Secrets.Get(serviceaccount.ReadContext(ctx, "secrets", namespace, ref.Name), ref.Name, &metav1.GetOptions{})
		if err != nil {
			return b, err
		}
		b.Secret = obj.(*corev1.Secret)
		uid = b.Secret.UID
	default:
		// Node-bound tokens (ServiceAccountTokenNodeBinding) and webhook
		// tokens are not served.
		return b, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", refGVK.String()))
	}
	if ref.UID != "" && uid != ref.UID {
		return b, apierrors.NewConflict(schema.GroupResource{Group: refGVK.Group, Resource: refGVK.Kind}, ref.Name,
			fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	return b, nil
}

// node reads the node a bound pod runs on; a node that is gone still goes
// into the token by name, as in Kubernetes.
func (r *REST) node(ctx context.Context, name string) (*corev1.Node, error) {
	ctx = serviceaccount.ReadContext(ctx, "nodes", "", name)
	obj, err := r.Nodes.Get(ctx, name, &metav1.GetOptions{ResourceVersion: "0"})
	if err != nil {
		obj, err = r.Nodes.Get(ctx, name, &metav1.GetOptions{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, nil
	case err != nil:
		return nil, apierrors.NewInternalError(err)
	}
	return obj.(*corev1.Node), nil
}

func (r *REST) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}
