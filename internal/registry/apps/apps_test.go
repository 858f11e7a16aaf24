package apps

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/registry/podspec"
	"skiff.dev/skiff/internal/registry/store"
)

// kind returns the served kind with the given resource name.
func kind(t *testing.T, resource string) *store.Kind {
	t.Helper()
	for _, k := range Kinds() {
		if k.Resource.Resource == resource {
			return k
		}
	}
	t.Fatalf("no kind %q", resource)
	return nil
}

func defaulted[T runtime.Object](obj T) T {
	scheme := runtime.NewScheme()
	RegisterDefaults(scheme)
	scheme.Default(obj)
	return obj
}

func template(lbls map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: lbls},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyAlways,
			Containers:    []corev1.Container{{Name: "web", Image: "nginx:1.25"}},
		},
	}
}

var webLabels = map[string]string{"app": "web"}

func selector(lbls map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: lbls}
}

// ownErrors renders errs, leaving out those the pod template validation
// (another package's business) reports for tmpl at path.
func ownErrors(errs field.ErrorList, tmpl *corev1.PodTemplateSpec, path *field.Path) []string {
	pod := map[string]bool{}
	for _, e := range podspec.ValidatePodTemplateSpec(tmpl, path) {
		pod[e.Error()] = true
	}
	var out []string
	for _, e := range errs {
		if !pod[e.Error()] {
			out = append(out, e.Error())
		}
	}
	return out
}

func checkErrors(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n got  %q\n want %q", got, want)
	}
}

func TestKinds(t *testing.T) {
	want := map[string]struct {
		kind       string
		short      []string
		categories []string
		scale      bool
	}{
		"deployments":         {"Deployment", []string{"deploy"}, []string{"all"}, true},
		"replicasets":         {"ReplicaSet", []string{"rs"}, []string{"all"}, true},
		"statefulsets":        {"StatefulSet", []string{"sts"}, []string{"all"}, true},
		"daemonsets":          {"DaemonSet", []string{"ds"}, []string{"all"}, false},
		"controllerrevisions": {"ControllerRevision", nil, nil, false},
	}
	ks := Kinds()
	if len(ks) != len(want) {
		t.Fatalf("got %d kinds, want %d", len(ks), len(want))
	}
	for _, k := range ks {
		w, ok := want[k.Resource.Resource]
		if !ok {
			t.Errorf("unexpected resource %s", k.Resource)
			continue
		}
		if k.Resource.Group != "apps" || k.Kind != w.kind || !k.Namespaced {
			t.Errorf("%s: got group %q kind %q namespaced %v", k.Resource, k.Resource.Group, k.Kind, k.Namespaced)
		}
		if !slices.Equal(k.ShortNames, w.short) || !slices.Equal(k.Categories, w.categories) {
			t.Errorf("%s: shortNames %v categories %v", k.Resource, k.ShortNames, k.Categories)
		}
		if (k.Scale != nil) != w.scale {
			t.Errorf("%s: scale subresource %v, want %v", k.Resource, k.Scale != nil, w.scale)
		}
		if len(k.Columns) == 0 || k.Row == nil {
			t.Errorf("%s: no table columns", k.Resource)
		}
	}
}

func columnNames(k *store.Kind, wide bool) string {
	var names []string
	for _, c := range k.Columns {
		if (c.Priority == 0) != wide {
			names = append(names, strings.ToUpper(c.Name))
		}
	}
	return strings.Join(names, " ")
}

func TestColumns(t *testing.T) {
	for _, tc := range []struct{ resource, columns, wide string }{
		{"deployments", "READY UP-TO-DATE AVAILABLE AGE", "CONTAINERS IMAGES SELECTOR"},
		{"replicasets", "DESIRED CURRENT READY AGE", "CONTAINERS IMAGES SELECTOR"},
		{"statefulsets", "READY AGE", "CONTAINERS IMAGES"},
		{"daemonsets", "DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE", "CONTAINERS IMAGES SELECTOR"},
		{"controllerrevisions", "CONTROLLER REVISION AGE", ""},
	} {
		k := kind(t, tc.resource)
		if got := columnNames(k, false); got != tc.columns {
			t.Errorf("%s columns: got %q, want %q", tc.resource, got, tc.columns)
		}
		if got := columnNames(k, true); got != tc.wide {
			t.Errorf("%s wide columns: got %q, want %q", tc.resource, got, tc.wide)
		}
	}
}

func TestRows(t *testing.T) {
	created := metav1.NewTime(time.Now().Add(-5 * time.Minute))
	tmpl := template(webLabels)
	tmpl.Spec.Containers = append(tmpl.Spec.Containers, corev1.Container{Name: "sidecar", Image: "busybox"})
	meta := metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: created}

	for _, tc := range []struct {
		resource string
		obj      runtime.Object
		want     []interface{}
	}{
		{"deployments", &appsv1.Deployment{
			ObjectMeta: meta,
			Spec:       appsv1.DeploymentSpec{Replicas: new(int32(3)), Selector: selector(webLabels), Template: tmpl},
			Status:     appsv1.DeploymentStatus{UpdatedReplicas: 2, AvailableReplicas: 1},
		}, []interface{}{"0/3", int64(2), int64(1), "5m", "web,sidecar", "nginx:1.25,busybox", "app=web"}},
		{"replicasets", &appsv1.ReplicaSet{
			ObjectMeta: meta,
			Spec:       appsv1.ReplicaSetSpec{Replicas: new(int32(3)), Selector: selector(webLabels), Template: tmpl},
			Status:     appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 2},
		}, []interface{}{int64(3), int64(3), int64(2), "5m", "web,sidecar", "nginx:1.25,busybox", "app=web"}},
		{"statefulsets", &appsv1.StatefulSet{
			ObjectMeta: meta,
			Spec:       appsv1.StatefulSetSpec{Replicas: new(int32(2)), Selector: selector(webLabels), Template: tmpl},
			Status:     appsv1.StatefulSetStatus{ReadyReplicas: 1},
		}, []interface{}{"1/2", "5m", "web,sidecar", "nginx:1.25,busybox"}},
		{"daemonsets", &appsv1.DaemonSet{
			ObjectMeta: meta,
			Spec:       appsv1.DaemonSetSpec{Selector: selector(webLabels), Template: tmpl},
			Status:     appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 3, NumberAvailable: 2},
		}, []interface{}{int64(3), int64(3), int64(2), int64(3), int64(2), "<none>", "5m", "web,sidecar", "nginx:1.25,busybox", "app=web"}},
		{"controllerrevisions", &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f", CreationTimestamp: created, OwnerReferences: []metav1.OwnerReference{
				{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", Controller: new(true)},
			}},
			Revision: 2,
		}, []interface{}{"statefulset.apps/web", int64(2), "5m"}},
		{"controllerrevisions", &appsv1.ControllerRevision{ObjectMeta: meta, Revision: 1}, []interface{}{"<none>", int64(1), "5m"}},
	} {
		k := kind(t, tc.resource)
		got, err := k.Row(tc.obj)
		if err != nil {
			t.Fatalf("%s row: %v", tc.resource, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s row:\n got  %#v\n want %#v", tc.resource, got, tc.want)
		}
		if len(got) != len(k.Columns) {
			t.Errorf("%s: %d cells for %d columns", tc.resource, len(got), len(k.Columns))
		}
	}

	ds := &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: selector(webLabels), Template: tmpl}}
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	row, _ := kind(t, "daemonsets").Row(ds)
	if row[5] != "kubernetes.io/os=linux" {
		t.Errorf("daemonset node selector cell: got %v", row[5])
	}
}

func TestScale(t *testing.T) {
	sel := &metav1.LabelSelector{
		MatchLabels:      webLabels,
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front"}}},
	}
	for _, tc := range []struct {
		resource string
		obj      runtime.Object
	}{
		{"deployments", &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: new(int32(3)), Selector: sel}, Status: appsv1.DeploymentStatus{Replicas: 2}}},
		{"replicasets", &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: new(int32(3)), Selector: sel}, Status: appsv1.ReplicaSetStatus{Replicas: 2}}},
		{"statefulsets", &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Replicas: new(int32(3)), Selector: sel}, Status: appsv1.StatefulSetStatus{Replicas: 2}}},
	} {
		s := kind(t, tc.resource).Scale
		if got := s.SpecReplicas(tc.obj); got != 3 {
			t.Errorf("%s spec replicas: got %d", tc.resource, got)
		}
		if got := s.StatusReplicas(tc.obj); got != 2 {
			t.Errorf("%s status replicas: got %d", tc.resource, got)
		}
		s.SetSpecReplicas(tc.obj, 5)
		if got := s.SpecReplicas(tc.obj); got != 5 {
			t.Errorf("%s after scaling: got %d", tc.resource, got)
		}
		got, err := s.Selector(tc.obj)
		if err != nil || got != "app=web,tier in (front)" {
			t.Errorf("%s selector: got %q, %v", tc.resource, got, err)
		}
	}
}

func TestReplicaSetSelectableFields(t *testing.T) {
	rs := &appsv1.ReplicaSet{Status: appsv1.ReplicaSetStatus{Replicas: 4}}
	if got := kind(t, "replicasets").SelectableFields(rs)["status.replicas"]; got != "4" {
		t.Errorf("status.replicas: got %q", got)
	}
}

func validate(t *testing.T, resource string, obj runtime.Object) field.ErrorList {
	t.Helper()
	return kind(t, resource).Validate(context.Background(), obj)
}

func validateUpdate(t *testing.T, resource string, obj, old runtime.Object) field.ErrorList {
	t.Helper()
	return kind(t, resource).ValidateUpdate(context.Background(), obj, old)
}

func TestControllerRevisionValidation(t *testing.T) {
	k := kind(t, "controllerrevisions")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		data string
		rev  int64
		want []string
	}{
		{"object", `{"spec":{}}`, 1, nil},
		{"no data", "", 1, []string{"data: Required value: data is mandatory"}},
		{"null", "null", 1, []string{"data: Required value: data is mandatory"}},
		{"array", "[1]", 1, []string{"data: Required value: data must be a valid JSON object"}},
		{"negative revision", `{}`, -1, []string{"revision: Invalid value: -1: must be greater than or equal to 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr := &appsv1.ControllerRevision{Revision: tc.rev}
			if tc.data != "" {
				cr.Data.Raw = []byte(tc.data)
			}
			var got []string
			for _, e := range k.Validate(ctx, cr) {
				got = append(got, e.Error())
			}
			checkErrors(t, got, tc.want)
		})
	}
	old := &appsv1.ControllerRevision{Revision: 1, Data: runtime.RawExtension{Raw: []byte(`{"a":1}`)}}
	changed := old.DeepCopy()
	changed.Data.Raw = []byte(`{"a":2}`)
	if errs := k.ValidateUpdate(ctx, changed, old); len(errs) != 1 || !strings.Contains(errs[0].Error(), "data: Invalid value") || !strings.Contains(errs[0].Error(), "field is immutable") {
		t.Errorf("changed data: %v, want data immutable", errs)
	}
	relabeled := old.DeepCopy()
	relabeled.Labels = map[string]string{"a": "b"}
	if errs := k.ValidateUpdate(ctx, relabeled, old); len(errs) != 0 {
		t.Errorf("relabeled: %v", errs)
	}
}
