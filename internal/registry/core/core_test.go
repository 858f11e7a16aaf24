package core

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/registry/store"
)

var ctx = context.Background()

func kindOf(t *testing.T, plural string) *store.Kind {
	t.Helper()
	for _, k := range Kinds() {
		if k.Resource.Resource == plural {
			return k
		}
	}
	t.Fatalf("no kind %q", plural)
	return nil
}

func defaulted[T runtime.Object](t *testing.T, obj T) T {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	RegisterDefaults(scheme)
	scheme.Default(obj)
	return obj
}

func errorStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestKinds(t *testing.T) {
	want := map[string]struct {
		kind       string
		namespaced bool
		short      []string
		categories []string
	}{
		"namespaces":             {"Namespace", false, []string{"ns"}, nil},
		"nodes":                  {"Node", false, []string{"no"}, nil},
		"pods":                   {"Pod", true, []string{"po"}, []string{"all"}},
		"services":               {"Service", true, []string{"svc"}, []string{"all"}},
		"endpoints":              {"Endpoints", true, []string{"ep"}, nil},
		"configmaps":             {"ConfigMap", true, []string{"cm"}, nil},
		"secrets":                {"Secret", true, nil, nil},
		"serviceaccounts":        {"ServiceAccount", true, []string{"sa"}, nil},
		"events":                 {"Event", true, []string{"ev"}, nil},
		"persistentvolumes":      {"PersistentVolume", false, []string{"pv"}, nil},
		"persistentvolumeclaims": {"PersistentVolumeClaim", true, []string{"pvc"}, nil},
		"podtemplates":           {"PodTemplate", true, nil, nil},
		"replicationcontrollers": {"ReplicationController", true, []string{"rc"}, []string{"all"}},
		"resourcequotas":         {"ResourceQuota", true, []string{"quota"}, nil},
		"limitranges":            {"LimitRange", true, []string{"limits"}, nil},
	}
	kinds := Kinds()
	if len(kinds) != len(want) {
		t.Fatalf("%d kinds, want %d", len(kinds), len(want))
	}
	for _, k := range kinds {
		w, ok := want[k.Resource.Resource]
		if !ok {
			t.Errorf("unexpected kind %s", k.Resource)
			continue
		}
		if k.Kind != w.kind || k.Namespaced != w.namespaced || !reflect.DeepEqual(k.ShortNames, w.short) || !reflect.DeepEqual(k.Categories, w.categories) {
			t.Errorf("%s: kind %s namespaced %v short %v categories %v", k.Resource.Resource, k.Kind, k.Namespaced, k.ShortNames, k.Categories)
		}
		if k.Resource.Group != "" {
			t.Errorf("%s: group %q", k.Resource.Resource, k.Resource.Group)
		}
		if k.SelectableFields != nil {
			k.SelectableFields(k.New()) // must not panic on an empty object
		}
		if k.Row != nil {
			if cells, err := k.Row(k.New()); err != nil || len(cells) != len(k.Columns) {
				t.Errorf("%s: row of an empty object: %d cells for %d columns, %v", k.Resource.Resource, len(cells), len(k.Columns), err)
			}
		}
	}
}

func TestPodDefaultsAndCreate(t *testing.T) {
	k := kindOf(t, "pods")
	pod := defaulted(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "model-0", Namespace: "production"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "model", Image: "model:v1",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi"),
			}},
		}}},
	})
	if pod.Spec.EnableServiceLinks == nil || !*pod.Spec.EnableServiceLinks || pod.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("pod defaults missing: %+v", pod.Spec)
	}
	pod.Status.Phase = corev1.PodRunning
	k.PrepareForCreate(ctx, pod)
	if pod.Status.Phase != corev1.PodPending || pod.Status.QOSClass != corev1.PodQOSGuaranteed {
		t.Errorf("status after create: %+v", pod.Status)
	}
	if errs := k.Validate(ctx, pod); len(errs) != 0 {
		t.Errorf("valid pod: %v", errs)
	}
	got := k.SelectableFields(pod)
	for key, want := range map[string]string{"spec.nodeName": "", "status.phase": "Pending", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler"} {
		if got[key] != want {
			t.Errorf("field %s = %q, want %q", key, got[key], want)
		}
	}

	bad := pod.DeepCopy()
	bad.Spec.Containers = nil
	if got := errorStrings(k.Validate(ctx, bad)); !reflect.DeepEqual(got, []string{"spec.containers: Required value"}) {
		t.Errorf("errors %q", got)
	}
}

func TestPodUpdate(t *testing.T) {
	k := kindOf(t, "pods")
	old := defaulted(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "model:v1"}}},
	})
	image := old.DeepCopy()
	image.Spec.Containers[0].Image = "model:v2"
	if errs := k.ValidateUpdate(ctx, image, old); len(errs) != 0 {
		t.Errorf("image update refused: %v", errs)
	}
	env := old.DeepCopy()
	env.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "b"}}
	errs := k.ValidateUpdate(ctx, env, old)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,") {
		t.Errorf("env update: %v", errs)
	}
	added := old.DeepCopy()
	added.Spec.Containers = append(added.Spec.Containers, corev1.Container{Name: "d", Image: "x", TerminationMessagePolicy: "File", ImagePullPolicy: "Always"})
	if got := errorStrings(k.ValidateUpdate(ctx, added, old)); !reflect.DeepEqual(got, []string{"spec.containers: Forbidden: pod updates may not add or remove containers"}) {
		t.Errorf("errors %q", got)
	}
}

func TestPodGracefulDelete(t *testing.T) {
	k := kindOf(t, "pods")
	grace := int64(30)
	ten := int64(10)
	tests := []struct {
		name  string
		node  string
		phase corev1.PodPhase
		opt   *int64
		want  int64
	}{
		{"unscheduled", "", corev1.PodPending, nil, 0},
		{"running", "n1", corev1.PodRunning, nil, 30},
		{"running with option", "n1", corev1.PodRunning, &ten, 10},
		{"succeeded", "n1", corev1.PodSucceeded, nil, 0},
		{"failed", "n1", corev1.PodFailed, &ten, 0},
	}
	for _, tt := range tests {
		pod := &corev1.Pod{Spec: corev1.PodSpec{NodeName: tt.node, TerminationGracePeriodSeconds: &grace}, Status: corev1.PodStatus{Phase: tt.phase}}
		opts := &metav1.DeleteOptions{GracePeriodSeconds: tt.opt}
		if !k.GracefulDelete(ctx, pod, opts) || *opts.GracePeriodSeconds != tt.want {
			t.Errorf("%s: grace %v, want %d", tt.name, opts.GracePeriodSeconds, tt.want)
		}
	}
}

func TestPodRow(t *testing.T) {
	k := kindOf(t, "pods")
	now := metav1.Now()
	earlier := metav1.NewTime(time.Now().Add(-2 * time.Minute))
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	waiting := func(r string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: r}}
	}
	base := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: now},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning},
		}
	}
	tests := []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   []interface{}
	}{
		{"pending unscheduled", func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending },
			[]interface{}{"0/2", "Pending", "0", "0s", "<none>", "<none>", "<none>", "<none>"}},
		{"running", func(p *corev1.Pod) {
			p.Spec.NodeName = "node-1"
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.5"}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}, {Name: "b", State: running}}
		}, []interface{}{"1/2", "Running", "0", "0s", "10.42.0.5", "node-1", "<none>", "<none>"}},
		{"crash loop", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{
				{Name: "a", Ready: true, State: running},
				{Name: "b", RestartCount: 5, State: waiting("CrashLoopBackOff"),
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: earlier}}},
			}
		}, []interface{}{"1/2", "CrashLoopBackOff", "5 (2m ago)", "0s", "<none>", "<none>", "<none>", "<none>"}},
		{"creating", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "a", State: waiting("ContainerCreating")}, {Name: "b", State: waiting("ContainerCreating")}}
		}, []interface{}{"0/2", "ContainerCreating", "0", "0s", "<none>", "<none>", "<none>", "<none>"}},
		{"init", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Spec.InitContainers = []corev1.Container{{Name: "i"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "i", State: running}}
		}, []interface{}{"0/2", "Init:0/1", "0", "0s", "<none>", "<none>", "<none>", "<none>"}},
		{"completed", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodSucceeded
			done := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "a", State: done}, {Name: "b", State: done}}
		}, []interface{}{"0/2", "Completed", "0", "0s", "<none>", "<none>", "<none>", "<none>"}},
		{"exit code", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "a", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}}}}
		}, []interface{}{"0/2", "ExitCode:3", "0", "0s", "<none>", "<none>", "<none>", "<none>"}},
		{"terminating", func(p *corev1.Pod) {
			p.DeletionTimestamp = &now
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}, {Name: "b", Ready: true, State: running}}
		}, []interface{}{"2/2", "Terminating", "0", "0s", "<none>", "<none>", "<none>", "<none>"}},
		{"readiness gates", func(p *corev1.Pod) {
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "lb/ready"}, {ConditionType: "other"}}
			p.Status.Conditions = []corev1.PodCondition{{Type: "lb/ready", Status: corev1.ConditionTrue}}
		}, []interface{}{"0/2", "Running", "0", "0s", "<none>", "<none>", "<none>", "1/2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.mutate(p)
			got, err := k.Row(p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("row\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNamespace(t *testing.T) {
	k := kindOf(t, "namespaces")
	ns := defaulted(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "production"}})
	k.PrepareForCreate(ctx, ns)
	if !reflect.DeepEqual(ns.Spec.Finalizers, []corev1.FinalizerName{"kubernetes"}) || ns.Status.Phase != corev1.NamespaceActive ||
		ns.Labels["kubernetes.io/metadata.name"] != "production" {
		t.Errorf("namespace after create: %+v", ns)
	}
	upd := ns.DeepCopy()
	upd.Labels = map[string]string{"team": "ml"}
	upd.Spec.Finalizers = nil
	k.PrepareForUpdate(ctx, upd, ns)
	if upd.Labels["kubernetes.io/metadata.name"] != "production" || len(upd.Spec.Finalizers) != 1 {
		t.Errorf("namespace after update: %+v", upd)
	}
	if msgs := k.NameValidation("Production_1", false); len(msgs) == 0 {
		t.Errorf("DNS-1123 label validation accepted Production_1")
	}
	if cells, _ := k.Row(ns); cells[0] != "Active" {
		t.Errorf("row %v", cells)
	}
	if k.NoStatusSubresource {
		t.Errorf("namespaces have a status subresource")
	}
}

func TestNodeRow(t *testing.T) {
	k := kindOf(t, "nodes")
	if !k.KeepStatusOnCreate {
		t.Errorf("nodes keep their status on create")
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: metav1.Now(), Labels: map[string]string{
			"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "true"}},
		Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-skiff", OSImage: "Ubuntu 24.04", ContainerRuntimeVersion: "containerd://2.1"},
		},
	}
	got, _ := k.Row(node)
	want := []interface{}{"Ready,SchedulingDisabled", "control-plane,worker", "0s", "v1.37.2-skiff", "192.168.1.10", "<none>", "Ubuntu 24.04", "<unknown>", "containerd://2.1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row\n got %q\nwant %q", got, want)
	}
	node.Spec.Unschedulable = false
	node.Status.Conditions[0].Status = corev1.ConditionUnknown
	if s := NodeStatus(node); s != "NotReady" {
		t.Errorf("status %q", s)
	}
	node.Status.Conditions = nil
	if s := NodeStatus(node); s != "Unknown" {
		t.Errorf("status %q", s)
	}
	if got := k.SelectableFields(node)["spec.unschedulable"]; got != "false" {
		t.Errorf("spec.unschedulable = %q", got)
	}
	bad := node.DeepCopy()
	bad.Spec.Taints = []corev1.Taint{{Key: "gpu", Effect: "Sometimes"}}
	if got := errorStrings(k.Validate(ctx, bad)); len(got) != 1 || !strings.HasPrefix(got[0], `metadata.taints[0].effect: Unsupported value: "Sometimes"`) {
		t.Errorf("errors %q", got)
	}
}

func newService(typ corev1.ServiceType, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "model", Namespace: "production", CreationTimestamp: metav1.Now()},
		Spec:       corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": "model"}, Ports: ports},
	}
}

func TestServiceDefaults(t *testing.T) {
	k := kindOf(t, "services")
	svc := defaulted(t, newService("", corev1.ServicePort{Port: 80}))
	k.PrepareForCreate(ctx, svc)
	s := svc.Spec
	if s.Type != corev1.ServiceTypeClusterIP || s.SessionAffinity != corev1.ServiceAffinityNone || s.Ports[0].Protocol != corev1.ProtocolTCP ||
		s.Ports[0].TargetPort != intstr.FromInt32(80) || *s.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyCluster ||
		s.ExternalTrafficPolicy != "" || s.AllocateLoadBalancerNodePorts != nil {
		t.Errorf("ClusterIP defaults: %+v", s)
	}
	if *s.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack || !reflect.DeepEqual(s.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol}) {
		t.Errorf("ip families: %v %v", *s.IPFamilyPolicy, s.IPFamilies)
	}
	if errs := k.Validate(ctx, svc); len(errs) != 0 {
		t.Errorf("valid service: %v", errs)
	}

	lb := defaulted(t, newService(corev1.ServiceTypeLoadBalancer, corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}))
	if lb.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || lb.Spec.AllocateLoadBalancerNodePorts == nil || !*lb.Spec.AllocateLoadBalancerNodePorts {
		t.Errorf("LoadBalancer defaults: %+v", lb.Spec)
	}
	if lb.Spec.Ports[0].TargetPort != intstr.FromString("http") {
		t.Errorf("named targetPort replaced: %v", lb.Spec.Ports[0].TargetPort)
	}

	ext := defaulted(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}})
	k.PrepareForCreate(ctx, ext)
	if ext.Spec.IPFamilyPolicy != nil || ext.Spec.IPFamilies != nil || ext.Spec.InternalTrafficPolicy != nil {
		t.Errorf("ExternalName got IP fields: %+v", ext.Spec)
	}
	if errs := k.Validate(ctx, ext); len(errs) != 0 {
		t.Errorf("valid ExternalName: %v", errs)
	}
}

func TestServiceValidation(t *testing.T) {
	k := kindOf(t, "services")
	tests := []struct {
		name string
		svc  *corev1.Service
		want []string
	}{
		{"no ports", newService(""), []string{"spec.ports: Required value"}},
		{"headless without ports", func() *corev1.Service {
			s := newService("")
			s.Spec.ClusterIP = corev1.ClusterIPNone
			return s
		}(), nil},
		{"unnamed ports", newService("", corev1.ServicePort{Port: 80}, corev1.ServicePort{Port: 443}),
			[]string{"spec.ports[0].name: Required value", "spec.ports[1].name: Required value"}},
		{"port range", newService("", corev1.ServicePort{Port: 0}),
			[]string{"spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
				"spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"}},
		{"duplicate nodePort", newService(corev1.ServiceTypeNodePort, corev1.ServicePort{Name: "a", Port: 80, NodePort: 30080}, corev1.ServicePort{Name: "b", Port: 81, NodePort: 30080}),
			[]string{"spec.ports[1].nodePort: Duplicate value: 30080"}},
		{"nodePort on ClusterIP", newService("", corev1.ServicePort{Port: 80, NodePort: 30080}),
			[]string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}},
		{"bad type", newService("Internal", corev1.ServicePort{Port: 80}),
			[]string{`spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`}},
		{"selector", func() *corev1.Service {
			s := newService("", corev1.ServicePort{Port: 80})
			s.Spec.Selector = map[string]string{"app": "a b"}
			return s
		}(), []string{`spec.selector: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := defaulted(t, tt.svc)
			k.PrepareForCreate(ctx, svc)
			if got := errorStrings(k.Validate(ctx, svc)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors\n got %q\nwant %q", got, tt.want)
			}
		})
	}
	if msgs := k.NameValidation("1model", false); len(msgs) == 0 {
		t.Errorf("DNS-1035 validation accepted 1model")
	}
}

func TestServiceUpdate(t *testing.T) {
	k := kindOf(t, "services")
	old := defaulted(t, newService("", corev1.ServicePort{Port: 80}))
	old.Spec.ClusterIP = "10.43.0.10"
	k.PrepareForCreate(ctx, old)

	changed := old.DeepCopy()
	changed.Spec.ClusterIP = "10.43.0.11"
	k.PrepareForUpdate(ctx, changed, old)
	want := []string{`spec.clusterIPs[0]: Invalid value: ["10.43.0.11"]: may not change once set`}
	if got := errorStrings(k.ValidateUpdate(ctx, changed, old)); !reflect.DeepEqual(got, want) {
		t.Errorf("errors\n got %q\nwant %q", got, want)
	}

	// A replace without the allocated values keeps them.
	replaced := defaulted(t, newService("", corev1.ServicePort{Port: 80}))
	k.PrepareForUpdate(ctx, replaced, old)
	if replaced.Spec.ClusterIP != "10.43.0.10" || len(replaced.Spec.ClusterIPs) != 1 || len(replaced.Spec.IPFamilies) != 1 {
		t.Errorf("allocated values not kept: %+v", replaced.Spec)
	}
	if errs := k.ValidateUpdate(ctx, replaced, old); len(errs) != 0 {
		t.Errorf("replace: %v", errs)
	}

	// NodePort back to ClusterIP drops the node ports and traffic policy.
	np := defaulted(t, newService(corev1.ServiceTypeNodePort, corev1.ServicePort{Port: 80, NodePort: 31234}))
	np.Spec.ClusterIP = "10.43.0.12"
	k.PrepareForCreate(ctx, np)
	back := np.DeepCopy()
	back.Spec.Type = corev1.ServiceTypeClusterIP
	k.PrepareForUpdate(ctx, back, np)
	if back.Spec.Ports[0].NodePort != 0 || back.Spec.ExternalTrafficPolicy != "" {
		t.Errorf("type change kept NodePort fields: %+v", back.Spec)
	}
	if errs := k.ValidateUpdate(ctx, back, np); len(errs) != 0 {
		t.Errorf("NodePort to ClusterIP: %v", errs)
	}
}

func TestServiceRow(t *testing.T) {
	k := kindOf(t, "services")
	cluster := newService(corev1.ServiceTypeClusterIP, corev1.ServicePort{Port: 80, Protocol: "TCP"})
	cluster.Spec.ClusterIPs = []string{"10.43.0.10"}
	np := newService(corev1.ServiceTypeNodePort, corev1.ServicePort{Port: 80, NodePort: 31234, Protocol: "TCP"}, corev1.ServicePort{Port: 53, Protocol: "UDP"})
	np.Spec.ClusterIPs = []string{"10.43.0.11"}
	lb := newService(corev1.ServiceTypeLoadBalancer, corev1.ServicePort{Port: 443, NodePort: 30443, Protocol: "TCP"})
	lb.Spec.ClusterIPs = []string{"10.43.0.12"}
	lbReady := lb.DeepCopy()
	lbReady.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.1.240"}, {Hostname: "lb.example.com"}}
	ext := newService(corev1.ServiceTypeExternalName)
	ext.Spec.ExternalName = "db.example.com"
	ext.Spec.Selector = nil
	for _, tt := range []struct {
		svc  *corev1.Service
		want []interface{}
	}{
		{cluster, []interface{}{"ClusterIP", "10.43.0.10", "<none>", "80/TCP", "0s", "app=model"}},
		{np, []interface{}{"NodePort", "10.43.0.11", "<none>", "80:31234/TCP,53/UDP", "0s", "app=model"}},
		{lb, []interface{}{"LoadBalancer", "10.43.0.12", "<pending>", "443:30443/TCP", "0s", "app=model"}},
		{lbReady, []interface{}{"LoadBalancer", "10.43.0.12", "192.168.1.240,lb.example.com", "443:30443/TCP", "0s", "app=model"}},
		{ext, []interface{}{"ExternalName", "<none>", "db.example.com", "<none>", "0s", "<none>"}},
	} {
		got, _ := k.Row(tt.svc)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s row\n got %q\nwant %q", tt.svc.Spec.Type, got, tt.want)
		}
	}
}

func TestSecret(t *testing.T) {
	k := kindOf(t, "secrets")
	s := defaulted(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "gcp-credentials", Namespace: "production"},
		Data:       map[string][]byte{"a": []byte("1")},
		StringData: map[string]string{"key.json": "{}"},
	})
	k.PrepareForCreate(ctx, s)
	if s.Type != corev1.SecretTypeOpaque || string(s.Data["key.json"]) != "{}" || s.StringData != nil {
		t.Errorf("secret after create: %+v", s)
	}
	if cells, _ := k.Row(s); cells[0] != "Opaque" || cells[1] != int64(2) {
		t.Errorf("row %v", cells)
	}
	if got := k.SelectableFields(s)["type"]; got != "Opaque" {
		t.Errorf("type field %q", got)
	}
	s.Data["bad/key"] = nil
	if got := errorStrings(k.Validate(ctx, s)); len(got) != 1 || !strings.HasPrefix(got[0], `data[bad/key]: Invalid value: "bad/key": a valid config key must consist of alphanumeric characters`) {
		t.Errorf("errors %q", got)
	}
	tls := &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil}}
	if got := errorStrings(k.Validate(ctx, tls)); !reflect.DeepEqual(got, []string{"data[tls.key]: Required value"}) {
		t.Errorf("errors %q", got)
	}
	changed := s.DeepCopy()
	changed.Type = corev1.SecretTypeTLS
	delete(changed.Data, "bad/key")
	if got := errorStrings(k.ValidateUpdate(ctx, changed, s)); len(got) == 0 || !strings.HasPrefix(got[0], `type: Invalid value: "kubernetes.io/tls": field is immutable`) {
		t.Errorf("errors %q", got)
	}
}

func TestConfigMapAndServiceAccountRows(t *testing.T) {
	cm := &corev1.ConfigMap{Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": nil}}
	if cells, _ := kindOf(t, "configmaps").Row(cm); cells[0] != int64(2) || cells[1] != "<unknown>" {
		t.Errorf("configmap row %v", cells)
	}
	sa := &corev1.ServiceAccount{Secrets: []corev1.ObjectReference{{Name: "t"}}}
	if cells, _ := kindOf(t, "serviceaccounts").Row(sa); cells[0] != int64(1) {
		t.Errorf("serviceaccount row %v", cells)
	}
}

func TestEndpointsRow(t *testing.T) {
	k := kindOf(t, "endpoints")
	if !k.AllowCreateOnUpdate {
		t.Errorf("endpoints allow create on update")
	}
	ep := defaulted(t, &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.42.0.5"}, {IP: "10.42.0.6"}, {IP: "10.42.0.7"}, {IP: "10.42.0.8"}},
		Ports:     []corev1.EndpointPort{{Port: 8080}},
	}}})
	if ep.Subsets[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("endpoint port protocol not defaulted")
	}
	if cells, _ := k.Row(ep); cells[0] != "10.42.0.5:8080,10.42.0.6:8080,10.42.0.7:8080 + 1 more..." {
		t.Errorf("row %v", cells)
	}
	if cells, _ := k.Row(&corev1.Endpoints{}); cells[0] != "<none>" {
		t.Errorf("row %v", cells)
	}
	ep.Subsets[0].Addresses[0].IP = "127.0.0.1"
	if got := errorStrings(k.Validate(ctx, ep)); !reflect.DeepEqual(got, []string{`subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`}) {
		t.Errorf("errors %q", got)
	}
}

func TestEvent(t *testing.T) {
	k := kindOf(t, "events")
	if msgs := k.NameValidation("model-7c5ddbdf54-x2x9k.17a2b3c4d5e6f7a8", false); len(msgs) != 0 {
		t.Errorf("event name refused: %v", msgs)
	}
	if msgs := k.NameValidation("pod.17a2b3c4d5e6f7", false); len(msgs) != 0 {
		t.Errorf("event name refused: %v", msgs)
	}
	seen := metav1.NewTime(time.Now().Add(-90 * time.Second))
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "p.1", Namespace: "production"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "model-0", Namespace: "production", FieldPath: "spec.containers{model}"},
		Reason:         "Pulled", Message: "Container image pulled\n", Type: corev1.EventTypeNormal,
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: seen, LastTimestamp: seen, Count: 3,
	}
	got, _ := k.Row(ev)
	want := []interface{}{"90s", "Normal", "Pulled", "pod/model-0", "spec.containers{model}", "kubelet, node-1", "Container image pulled", "90s", int64(3)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row\n got %q\nwant %q", got, want)
	}
	fields := k.SelectableFields(ev)
	if fields["involvedObject.name"] != "model-0" || fields["source"] != "kubelet" || fields["reason"] != "Pulled" || fields["type"] != "Normal" {
		t.Errorf("fields %v", fields)
	}
	if errs := k.Validate(ctx, ev); len(errs) != 0 {
		t.Errorf("valid event: %v", errs)
	}
	ev.InvolvedObject.Namespace = "default"
	if got := errorStrings(k.Validate(ctx, ev)); !reflect.DeepEqual(got, []string{`involvedObject.namespace: Invalid value: "default": does not match event.namespace`}) {
		t.Errorf("errors %q", got)
	}
}
