package tolerationseconds

import (
	"context"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/utils/ptr"
)

func TestAdmit(t *testing.T) {
	notReady := corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}
	unreachable := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](20)}
	own := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, TolerationSeconds: ptr.To[int64](5)}
	everything := corev1.Toleration{Operator: corev1.TolerationOpExists}
	gpu := corev1.Toleration{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name string
		have []corev1.Toleration
		want []corev1.Toleration
	}{
		{"none", nil, []corev1.Toleration{notReady, unreachable}},
		{"unrelated kept", []corev1.Toleration{gpu}, []corev1.Toleration{gpu, notReady, unreachable}},
		{"own unreachable kept", []corev1.Toleration{own}, []corev1.Toleration{own, notReady}},
		{"tolerates everything", []corev1.Toleration{everything}, []corev1.Toleration{everything}},
	}
	p := New(300, 20)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tt.have}}
			a := admission.NewAttributesRecord(pod, nil, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, "default", "p",
				corev1.Resource("pods").WithVersion("v1"), "", admission.Create, nil, false, nil)
			if err := p.Admit(context.Background(), a, nil); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pod.Spec.Tolerations, tt.want) {
				t.Errorf("tolerations %+v, want %+v", pod.Spec.Tolerations, tt.want)
			}
		})
	}
	if p.Handles(admission.Update) {
		t.Error("plugin must act on create only")
	}
}
