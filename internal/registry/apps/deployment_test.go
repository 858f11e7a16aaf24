package apps

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestDeploymentDefaults(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { return new(intstr.FromString(s)) }
	for _, tc := range []struct {
		name     string
		spec     appsv1.DeploymentSpec
		replicas int32
		strategy appsv1.DeploymentStrategy
		history  int32
		deadline int32
	}{
		{
			name:     "empty",
			replicas: 1,
			strategy: appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: pct("25%"), MaxSurge: pct("25%")}},
			history:  10, deadline: 600,
		},
		{
			name: "missing maxUnavailable filled",
			spec: appsv1.DeploymentSpec{
				Replicas:             new(int32(0)),
				Strategy:             appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: new(intstr.FromInt32(1))}},
				RevisionHistoryLimit: new(int32(0)), ProgressDeadlineSeconds: new(int32(30)),
			},
			replicas: 0,
			strategy: appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: pct("25%"), MaxSurge: new(intstr.FromInt32(1))}},
			history:  0, deadline: 30,
		},
		{
			name:     "recreate has no rollingUpdate",
			spec:     appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: "Recreate"}},
			replicas: 1,
			strategy: appsv1.DeploymentStrategy{Type: "Recreate"},
			history:  10, deadline: 600,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := defaulted(&appsv1.Deployment{Spec: tc.spec})
			if *d.Spec.Replicas != tc.replicas {
				t.Errorf("replicas: got %d, want %d", *d.Spec.Replicas, tc.replicas)
			}
			if !apiequality.Semantic.DeepEqual(d.Spec.Strategy, tc.strategy) {
				t.Errorf("strategy: got %+v, want %+v", d.Spec.Strategy, tc.strategy)
			}
			if *d.Spec.RevisionHistoryLimit != tc.history || *d.Spec.ProgressDeadlineSeconds != tc.deadline {
				t.Errorf("revisionHistoryLimit %d progressDeadlineSeconds %d", *d.Spec.RevisionHistoryLimit, *d.Spec.ProgressDeadlineSeconds)
			}
		})
	}
}

func validDeployment() *appsv1.Deployment {
	return defaulted(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(3)),
			Selector: selector(webLabels),
			Template: template(webLabels),
		},
	})
}

func TestDeploymentValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.Deployment)
		want   []string
	}{
		{"valid", func(*appsv1.Deployment) {}, nil},
		{"no selector", func(d *appsv1.Deployment) { d.Spec.Selector = nil }, []string{
			"spec.selector: Required value",
			"spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
		}},
		{"empty selector", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }, []string{
			"spec.selector: Invalid value: {}: empty selector is invalid for deployment",
		}},
		{"selector not matching", func(d *appsv1.Deployment) { d.Spec.Selector = selector(map[string]string{"app": "api"}) }, []string{
			"spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
		}},
		{"bad selector operator", func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near", Values: []string{"x"}}}
		}, []string{
			"spec.selector.matchExpressions[0].operator: Invalid value: \"Near\": not a valid selector operator",
			"spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"Near\",\"values\":[\"x\"]}]}: invalid label selector",
		}},
		{"negative replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32(-1)) }, []string{
			"spec.replicas: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"restart never", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }, []string{
			"spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
		}},
		{"active deadline", func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = new(int64(5)) }, []string{
			"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported",
		}},
		{"unknown strategy", func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: "BlueGreen"}
		}, []string{
			"spec.strategy: Unsupported value: {\"type\":\"BlueGreen\"}: supported values: \"Recreate\", \"RollingUpdate\"",
		}},
		{"recreate with rollingUpdate", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType }, []string{
			"spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
		}},
		{"both zero", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = new(intstr.FromInt32(0))
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = new(intstr.FromString("0%"))
		}, []string{
			"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0",
		}},
		{"int zero maxUnavailable", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = new(intstr.FromInt32(0))
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = new(intstr.FromInt32(0))
		}, []string{
			"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
		}},
		{"bad percentages", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = new(intstr.FromString("ten%"))
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = new(intstr.FromString("150%"))
		}, []string{
			"spec.strategy.rollingUpdate.maxSurge: Invalid value: \"ten%\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
			"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%",
		}},
		{"negative surge", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = new(intstr.FromInt32(-1)) }, []string{
			"spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"negative history", func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = new(int32(-1)) }, []string{
			"spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"deadline not after minReady", func(d *appsv1.Deployment) {
			d.Spec.MinReadySeconds = 600
		}, []string{
			"spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := validDeployment()
			tc.mutate(d)
			checkErrors(t, ownErrors(validate(t, "deployments", d), &d.Spec.Template, field.NewPath("spec", "template")), tc.want)
		})
	}
}

func TestDeploymentUpdate(t *testing.T) {
	old := validDeployment()
	old.Generation = 4

	scaled := old.DeepCopy()
	scaled.Spec.Replicas = new(int32(5))
	if errs := validateUpdate(t, "deployments", scaled, old); len(ownErrors(errs, &scaled.Spec.Template, field.NewPath("spec", "template"))) != 0 {
		t.Errorf("scaling: unexpected errors %v", errs)
	}

	moved := old.DeepCopy()
	moved.Spec.Selector = selector(map[string]string{"app": "web", "track": "canary"})
	moved.Spec.Template.Labels = map[string]string{"app": "web", "track": "canary"}
	checkErrors(t, ownErrors(validateUpdate(t, "deployments", moved, old), &moved.Spec.Template, field.NewPath("spec", "template")), []string{
		"spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"track\":\"canary\"}}: field is immutable",
	})

	// A change of annotations alone is a new generation.
	annotated := old.DeepCopy()
	annotated.Annotations = map[string]string{"kubernetes.io/change-cause": "v2"}
	annotated.Generation = old.Generation
	kind(t, "deployments").PrepareForUpdate(context.Background(), annotated, old)
	if annotated.Generation != 5 {
		t.Errorf("generation after annotation change: got %d, want 5", annotated.Generation)
	}
	same := old.DeepCopy()
	kind(t, "deployments").PrepareForUpdate(context.Background(), same, old)
	if same.Generation != 4 {
		t.Errorf("generation without change: got %d, want 4", same.Generation)
	}
}

func TestDeploymentStatusValidation(t *testing.T) {
	old := validDeployment()
	old.Status.CollisionCount = new(int32(2))
	d := old.DeepCopy()
	d.Status = appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: 3, AvailableReplicas: 1, CollisionCount: new(int32(1))}
	checkErrors(t, errorStrings(kind(t, "deployments").ValidateStatusUpdate(context.Background(), d, old)), []string{
		"status.readyReplicas: Invalid value: 3: cannot be greater than status.replicas",
		"status.collisionCount: Invalid value: 1: cannot be decremented",
	})
}

func errorStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
