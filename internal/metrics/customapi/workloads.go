package customapi

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// ClientWorkloads reads Deployments, ReplicaSets and StatefulSets through
// the API.
type ClientWorkloads struct {
	Client kubernetes.Interface
}

// Selector returns the workload's pod selector.
func (c ClientWorkloads) Selector(ctx context.Context, gr schema.GroupResource, namespace, name string) (labels.Selector, corev1.ObjectReference, error) {
	var (
		sel  *metav1.LabelSelector
		kind string
		err  error
	)
	apps := c.Client.AppsV1()
	switch gr {
	case schema.GroupResource{Group: "apps", Resource: "deployments"}:
		kind = "Deployment"
		if d, gerr := apps.Deployments(namespace).Get(ctx, name, metav1.GetOptions{}); gerr == nil {
			sel = d.Spec.Selector
		} else {
			err = gerr
		}
	case schema.GroupResource{Group: "apps", Resource: "replicasets"}:
		kind = "ReplicaSet"
		if rs, gerr := apps.ReplicaSets(namespace).Get(ctx, name, metav1.GetOptions{}); gerr == nil {
			sel = rs.Spec.Selector
		} else {
			err = gerr
		}
	case schema.GroupResource{Group: "apps", Resource: "statefulsets"}:
		kind = "StatefulSet"
		if ss, gerr := apps.StatefulSets(namespace).Get(ctx, name, metav1.GetOptions{}); gerr == nil {
			sel = ss.Spec.Selector
		} else {
			err = gerr
		}
	default:
		return nil, corev1.ObjectReference{}, apierrors.NewNotFound(schema.GroupResource{Group: Group, Resource: gr.String()}, name)
	}
	if err != nil {
		return nil, corev1.ObjectReference{}, err
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, corev1.ObjectReference{}, fmt.Errorf("custom metrics: selector of %s %s/%s: %w", kind, namespace, name, err)
	}
	return s, corev1.ObjectReference{Kind: kind, Namespace: namespace, Name: name, APIVersion: "apps/v1"}, nil
}
