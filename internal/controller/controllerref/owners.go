package controllerref

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Lister reads one namespace of an informer's cache. client-go's namespace
// listers (appslisters.DeploymentNamespaceLister, ...) are Listers.
type Lister[T any] interface {
	List(selector labels.Selector) ([]T, error)
	Get(name string) (T, error)
}

// Owners finds, in an informer's cache, the controllers of one kind that an
// owned object's event concerns.
type Owners[O metav1.Object] struct {
	// Kind is the controllers' group, version and kind; a ControllerRef
	// naming another one is not theirs.
	Kind schema.GroupVersionKind
	// Lister returns the cache of the controllers in a namespace.
	Lister func(namespace string) Lister[O]
	// Selector returns a controller's label selector.
	Selector func(O) *metav1.LabelSelector
}

// NewOwners is the Owners of kind whose controllers namespaced lists (a
// lister's per-namespace accessor, e.g. a DeploymentLister's Deployments)
// and selector selects by.
func NewOwners[O metav1.Object, L Lister[O]](kind schema.GroupVersionKind, namespaced func(namespace string) L, selector func(O) *metav1.LabelSelector) Owners[O] {
	return Owners[O]{
		Kind:     kind,
		Lister:   func(namespace string) Lister[O] { return namespaced(namespace) },
		Selector: selector,
	}
}

// Resolve returns the controller that ref (the ControllerRef of an object
// in namespace; nil for an orphan) names, if ref is of Kind and the cache
// holds that controller with ref's UID.
func (o Owners[O]) Resolve(namespace string, ref *metav1.OwnerReference) (O, bool) {
	var none O
	if ref == nil || ref.Kind != o.Kind.Kind || ref.APIVersion != o.Kind.GroupVersion().String() {
		return none, false
	}
	owner, err := o.Lister(namespace).Get(ref.Name)
	if err != nil || owner.GetUID() != ref.UID {
		return none, false
	}
	return owner, true
}

// Matching returns the controllers in obj's namespace whose selector, valid
// and not empty, selects obj: those that may adopt it if it is an orphan.
func (o Owners[O]) Matching(obj metav1.Object) []O {
	all, err := o.Lister(obj.GetNamespace()).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []O
	for _, owner := range all {
		sel, err := metav1.LabelSelectorAsSelector(o.Selector(owner))
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(obj.GetLabels())) {
			continue
		}
		out = append(out, owner)
	}
	return out
}
