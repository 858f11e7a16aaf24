package apps

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var templatePath = field.NewPath("spec", "template")

func TestReplicaSetDefaultsAndValidation(t *testing.T) {
	rs := defaulted(&appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Selector: selector(webLabels), Template: template(webLabels)}})
	if rs.Spec.Replicas == nil || *rs.Spec.Replicas != 1 {
		t.Fatalf("replicas: got %v, want 1", rs.Spec.Replicas)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.ReplicaSet)
		want   []string
	}{
		{"valid", func(*appsv1.ReplicaSet) {}, nil},
		{"no selector", func(rs *appsv1.ReplicaSet) { rs.Spec.Selector = nil }, []string{
			"spec.selector: Required value",
			"spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
		}},
		{"empty selector", func(rs *appsv1.ReplicaSet) { rs.Spec.Selector = &metav1.LabelSelector{} }, []string{
			"spec.selector: Invalid value: {}: empty selector is invalid for deployment",
		}},
		{"negative minReadySeconds", func(rs *appsv1.ReplicaSet) { rs.Spec.MinReadySeconds = -1 }, []string{
			"spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"restart on failure", func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }, []string{
			"spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rs.DeepCopy()
			tc.mutate(c)
			checkErrors(t, ownErrors(validate(t, "replicasets", c), &c.Spec.Template, templatePath), tc.want)
		})
	}

	moved := rs.DeepCopy()
	moved.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "v": "2"}}
	moved.Spec.Template.Labels = map[string]string{"app": "web", "v": "2"}
	checkErrors(t, ownErrors(validateUpdate(t, "replicasets", moved, rs), &moved.Spec.Template, templatePath), []string{
		"spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"v\":\"2\"}}: field is immutable",
	})

	st := rs.DeepCopy()
	st.Status = appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1}
	checkErrors(t, errorStrings(kind(t, "replicasets").ValidateStatusUpdate(context.Background(), st, rs)), []string{
		"status.fullyLabeledReplicas: Invalid value: 2: cannot be greater than status.replicas",
	})
}

func validStatefulSet() *appsv1.StatefulSet {
	return defaulted(&appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: appsv1.StatefulSetSpec{
			ServiceName: "db",
			Selector:    selector(webLabels),
			Template:    template(webLabels),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	})
}

func TestStatefulSetDefaults(t *testing.T) {
	ss := validStatefulSet()
	want := appsv1.StatefulSetSpec{
		Replicas:            new(int32(1)),
		PodManagementPolicy: appsv1.OrderedReadyPodManagement,
		UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
			Type:          appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(0))},
		},
		RevisionHistoryLimit: new(int32(10)),
		PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		},
	}
	got := appsv1.StatefulSetSpec{
		Replicas: ss.Spec.Replicas, PodManagementPolicy: ss.Spec.PodManagementPolicy, UpdateStrategy: ss.Spec.UpdateStrategy,
		RevisionHistoryLimit: ss.Spec.RevisionHistoryLimit, PersistentVolumeClaimRetentionPolicy: ss.Spec.PersistentVolumeClaimRetentionPolicy,
	}
	if !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("defaults:\n got  %+v\n want %+v", got, want)
	}
	pvc := ss.Spec.VolumeClaimTemplates[0]
	if pvc.APIVersion != "v1" || pvc.Kind != "PersistentVolumeClaim" || pvc.Spec.VolumeMode == nil || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem || pvc.Status.Phase != corev1.ClaimPending {
		t.Errorf("claim template defaults: %+v", pvc)
	}

	// An explicit RollingUpdate type without a rollingUpdate block stays so;
	// OnDelete gets none.
	for _, typ := range []appsv1.StatefulSetUpdateStrategyType{appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType} {
		ss := defaulted(&appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: typ}}})
		if ss.Spec.UpdateStrategy.RollingUpdate != nil {
			t.Errorf("%s: rollingUpdate defaulted to %+v", typ, ss.Spec.UpdateStrategy.RollingUpdate)
		}
	}
	ss = defaulted(&appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
		Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{},
	}}})
	if p := ss.Spec.UpdateStrategy.RollingUpdate.Partition; p == nil || *p != 0 {
		t.Errorf("partition: got %v, want 0", p)
	}
}

func TestStatefulSetValidation(t *testing.T) {
	if k := kind(t, "statefulsets"); len(k.NameValidation("db.primary", false)) == 0 {
		t.Error("statefulset names must be DNS labels")
	}
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.StatefulSet)
		want   []string
	}{
		{"valid", func(*appsv1.StatefulSet) {}, nil},
		{"no service name", func(ss *appsv1.StatefulSet) { ss.Spec.ServiceName = "" }, nil},
		{"a mount may name a claim template", func(ss *appsv1.StatefulSet) {
			ss.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, nil},
		{"hostname and subdomain are the controller's", func(ss *appsv1.StatefulSet) {
			ss.Spec.Template.Spec.Hostname, ss.Spec.Template.Spec.Subdomain = "Not_A_Label", "Nor_This"
		}, nil},
		{"pod spec is validated", func(ss *appsv1.StatefulSet) {
			ss.Spec.Template.Spec.Containers[0].Image = ""
			ss.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "logs", MountPath: "/logs"}}
		}, []string{
			"spec.template.spec.containers[0].image: Required value",
			"spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"logs\"",
		}},
		{"no selector", func(ss *appsv1.StatefulSet) { ss.Spec.Selector = nil }, []string{
			"spec.selector: Required value",
			"spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
		}},
		{"empty selector", func(ss *appsv1.StatefulSet) { ss.Spec.Selector = &metav1.LabelSelector{} }, []string{
			"spec.selector: Invalid value: {}: empty selector is invalid for statefulset",
		}},
		{"bad policy", func(ss *appsv1.StatefulSet) { ss.Spec.PodManagementPolicy = "Random" }, []string{
			"spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
		}},
		{"on delete with rollingUpdate", func(ss *appsv1.StatefulSet) { ss.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType }, []string{
			"spec.updateStrategy.rollingUpdate: Invalid value: {\"partition\":0}: only allowed for updateStrategy 'RollingUpdate'",
		}},
		{"negative partition and zero maxUnavailable", func(ss *appsv1.StatefulSet) {
			ss.Spec.UpdateStrategy.RollingUpdate.Partition = new(int32(-1))
			ss.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = new(intstr.FromInt32(0))
		}, []string{
			"spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0",
			"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0",
		}},
		{"bad retention", func(ss *appsv1.StatefulSet) { ss.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = "Keep" }, []string{
			"spec.persistentVolumeClaimRetentionPolicy.whenScaled: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"",
		}},
		{"negative ordinal", func(ss *appsv1.StatefulSet) { ss.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: -1} }, []string{
			"spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"bad service name", func(ss *appsv1.StatefulSet) { ss.Spec.ServiceName = "DB_svc" }, []string{
			"spec.serviceName: Invalid value: \"DB_svc\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
		}},
		{"restart never", func(ss *appsv1.StatefulSet) { ss.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }, []string{
			"spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
		}},
		{"active deadline", func(ss *appsv1.StatefulSet) { ss.Spec.Template.Spec.ActiveDeadlineSeconds = new(int64(1)) }, []string{
			"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := validStatefulSet()
			tc.mutate(ss)
			checkErrors(t, errorStrings(validate(t, "statefulsets", ss)), tc.want)
		})
	}
}

func TestStatefulSetUpdate(t *testing.T) {
	old := validStatefulSet()
	ok := old.DeepCopy()
	ok.Spec.Replicas = new(int32(3))
	ok.Spec.Template.Spec.Containers[0].Image = "postgres:17"
	ok.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	ok.Spec.RevisionHistoryLimit = new(int32(2))
	ok.Spec.MinReadySeconds = 5
	checkErrors(t, errorStrings(validateUpdate(t, "statefulsets", ok, old)), nil)

	forbidden := "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
	// A stored set whose pod spec is invalid today stays updatable.
	legacy := old.DeepCopy()
	legacy.Spec.Template.Spec.Containers[0].Image = ""
	scaled := legacy.DeepCopy()
	scaled.Spec.Replicas = new(int32(5))
	checkErrors(t, errorStrings(validateUpdate(t, "statefulsets", scaled, legacy)), nil)

	for name, mutate := range map[string]func(*appsv1.StatefulSet){
		"service name":    func(ss *appsv1.StatefulSet) { ss.Spec.ServiceName = "other" },
		"claim templates": func(ss *appsv1.StatefulSet) { ss.Spec.VolumeClaimTemplates = nil },
		"pod management":  func(ss *appsv1.StatefulSet) { ss.Spec.PodManagementPolicy = appsv1.ParallelPodManagement },
	} {
		t.Run(name, func(t *testing.T) {
			ss := old.DeepCopy()
			mutate(ss)
			checkErrors(t, errorStrings(validateUpdate(t, "statefulsets", ss, old)), []string{forbidden})
		})
	}
}

func validDaemonSet() *appsv1.DaemonSet {
	return defaulted(&appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system"},
		Spec:       appsv1.DaemonSetSpec{Selector: selector(webLabels), Template: template(webLabels)},
	})
}

func TestDaemonSetDefaults(t *testing.T) {
	ds := validDaemonSet()
	want := appsv1.DaemonSetUpdateStrategy{
		Type:          appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: new(intstr.FromInt32(1)), MaxSurge: new(intstr.FromInt32(0))},
	}
	if !apiequality.Semantic.DeepEqual(ds.Spec.UpdateStrategy, want) {
		t.Errorf("update strategy: got %+v", ds.Spec.UpdateStrategy)
	}
	if ds.Spec.RevisionHistoryLimit == nil || *ds.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("revisionHistoryLimit: got %v", ds.Spec.RevisionHistoryLimit)
	}
	onDelete := defaulted(&appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}}})
	if onDelete.Spec.UpdateStrategy.RollingUpdate != nil {
		t.Errorf("OnDelete got a rollingUpdate: %+v", onDelete.Spec.UpdateStrategy.RollingUpdate)
	}
}

func TestDaemonSetValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.DaemonSet)
		want   []string
	}{
		{"valid", func(*appsv1.DaemonSet) {}, nil},
		{"no selector", func(ds *appsv1.DaemonSet) { ds.Spec.Selector = nil }, []string{
			"spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
		}},
		{"empty selector", func(ds *appsv1.DaemonSet) { ds.Spec.Selector = &metav1.LabelSelector{} }, []string{
			"spec.selector: Invalid value: {}: empty selector is invalid for daemonset",
		}},
		{"restart never", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }, []string{
			"spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
		}},
		{"both surge and unavailable", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = new(intstr.FromString("10%"))
		}, []string{
			"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: \"10%\": may not be set when maxUnavailable is non-zero",
		}},
		{"neither", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = new(intstr.FromInt32(0))
		}, []string{
			"spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0",
		}},
		{"no rollingUpdate", func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.RollingUpdate = nil }, []string{
			"spec.updateStrategy.rollingUpdate: Required value",
		}},
		{"unknown strategy", func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: "Surge"} }, []string{
			"spec.updateStrategy: Unsupported value: {\"type\":\"Surge\"}: supported values: \"RollingUpdate\", \"OnDelete\"",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := validDaemonSet()
			tc.mutate(ds)
			checkErrors(t, ownErrors(validate(t, "daemonsets", ds), &ds.Spec.Template, templatePath), tc.want)
		})
	}
}

func TestDaemonSetTemplateGeneration(t *testing.T) {
	k := kind(t, "daemonsets")
	ctx := context.Background()
	ds := validDaemonSet()
	k.PrepareForCreate(ctx, ds)
	if got := ds.Annotations[appsv1.DeprecatedTemplateGeneration]; got != "1" {
		t.Fatalf("template generation on create: got %q, want 1", got)
	}

	relabelled := ds.DeepCopy()
	relabelled.Labels = map[string]string{"team": "infra"}
	relabelled.Annotations = nil
	k.PrepareForUpdate(ctx, relabelled, ds)
	if got := relabelled.Annotations[appsv1.DeprecatedTemplateGeneration]; got != "1" {
		t.Errorf("template generation without template change: got %q, want 1", got)
	}

	updated := ds.DeepCopy()
	updated.Spec.Template.Spec.Containers[0].Image = "nginx:1.27"
	k.PrepareForUpdate(ctx, updated, ds)
	if got := updated.Annotations[appsv1.DeprecatedTemplateGeneration]; got != "2" {
		t.Errorf("template generation after template change: got %q, want 2", got)
	}

	moved := ds.DeepCopy()
	moved.Spec.Selector = selector(map[string]string{"app": "web", "x": "y"})
	moved.Spec.Template.Labels = map[string]string{"app": "web", "x": "y"}
	checkErrors(t, ownErrors(validateUpdate(t, "daemonsets", moved, ds), &moved.Spec.Template, templatePath), []string{
		"spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"x\":\"y\"}}: field is immutable",
	})
}
