package podsecurity

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/warning"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

type warnings []string

func (w *warnings) AddWarning(_, text string) { *w = append(*w, text) }

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func pod(ns, name string, privileged bool) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox",
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(privileged)},
		}}},
	}
}

func restrictedPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: "c", Image: "busybox",
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}

func TestValidate(t *testing.T) {
	const enforce, warn = "pod-security.kubernetes.io/enforce", "pod-security.kubernetes.io/warn"
	namespaces := []*corev1.Namespace{
		namespace("open", nil),
		namespace("locked", map[string]string{enforce: "restricted"}),
		namespace("warned", map[string]string{warn: "baseline", warn + "-version": "v1.30"}),
	}
	existing := pod("open", "old", true)
	tests := []struct {
		name      string
		op        admission.Operation
		resource  string
		obj, old  runtime.Object
		wantErr   string // prefix of the Forbidden message; "" = allowed
		wantCode  int32
		wantWarns []string
	}{
		{name: "unlabelled namespace admits a privileged pod", op: admission.Create, resource: "pods", obj: pod("open", "x", true)},
		{
			name: "restricted refuses a privileged pod", op: admission.Create, resource: "pods", obj: pod("locked", "x", true),
			wantErr:  `pods "x" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)`,
			wantCode: 403,
		},
		{name: "restricted admits a restricted pod", op: admission.Create, resource: "pods", obj: restrictedPod("locked", "x")},
		{
			name: "warn level warns and admits", op: admission.Create, resource: "pods", obj: pod("warned", "x", true),
			wantWarns: []string{`would violate PodSecurity "baseline:v1.30": privileged (container "c" must not set securityContext.privileged=true)`},
		},
		{
			name: "enforcing on a namespace warns about its existing pods", op: admission.Update, resource: "namespaces",
			obj: namespace("open", map[string]string{enforce: "baseline"}), old: namespace("open", nil),
			wantWarns: []string{`existing pods in namespace "open" violate the new PodSecurity enforce level "baseline:latest"`, `old: privileged`},
		},
		{
			name: "an invalid level is refused", op: admission.Create, resource: "namespaces",
			obj:      namespace("bad", map[string]string{enforce: "strict"}),
			wantErr:  `Namespace "bad" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict"`,
			wantCode: 422,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			factory := informers.NewSharedInformerFactory(client, 0)
			p, err := New(client, factory)
			if err != nil {
				t.Fatal(err)
			}
			for _, ns := range namespaces {
				if err := factory.Core().V1().Namespaces().Informer().GetIndexer().Add(ns); err != nil {
					t.Fatal(err)
				}
			}
			if err := factory.Core().V1().Pods().Informer().GetIndexer().Add(existing); err != nil {
				t.Fatal(err)
			}
			meta := tt.obj.(metav1.Object)
			kind := map[string]string{"pods": "Pod", "namespaces": "Namespace"}[tt.resource]
			a := admission.NewAttributesRecord(tt.obj, tt.old, corev1.SchemeGroupVersion.WithKind(kind), meta.GetNamespace(), meta.GetName(),
				corev1.Resource(tt.resource).WithVersion("v1"), "", tt.op, nil, false, &user.DefaultInfo{Name: "alice"})
			var got warnings
			ctx := warning.WithWarningRecorder(context.Background(), &got)
			err = p.Validate(ctx, a, nil)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v; want it admitted", err)
			case tt.wantErr != "":
				var status *apierrors.StatusError
				if !errors.As(err, &status) || !strings.HasPrefix(status.Error(), tt.wantErr) || status.ErrStatus.Code != tt.wantCode {
					t.Fatalf("Validate: %v; want a %d starting %q", err, tt.wantCode, tt.wantErr)
				}
			}
			if len(tt.wantWarns) == 0 && len(got) > 0 {
				t.Fatalf("warnings %q, want none", got)
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.wantWarns {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q, want one containing %q", got, w)
				}
			}
		})
	}
}
