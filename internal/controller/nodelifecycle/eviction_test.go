package nodelifecycle

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func TestSyncPodEvicts(t *testing.T) {
	added := metav1.NewTime(t0)
	node := testNode("a", corev1.ConditionUnknown, t0)
	node.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}}
	tests := []struct {
		name      string
		seconds   *int64 // toleration of unreachable; nil: no toleration at all
		forever   bool
		step      time.Duration
		deleted   bool
		requeueIn time.Duration
	}{
		{name: "untolerated: at once", deleted: true},
		{name: "tolerated 30s: not yet", seconds: ptr.To[int64](30), step: 10 * time.Second, requeueIn: 20 * time.Second},
		{name: "tolerated 30s: after", seconds: ptr.To[int64](30), step: 30 * time.Second, deleted: true},
		{name: "tolerated forever", forever: true, step: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "pod-uid"},
				Spec:       corev1.PodSpec{NodeName: "a", Containers: []corev1.Container{{Name: "c", Image: "i"}}},
			}
			if tt.seconds != nil || tt.forever {
				pod.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: tt.seconds}}
			}
			f := newFixture(t, node, pod)
			f.clock.Step(tt.step)
			after, err := f.ctrl.syncPod(context.Background(), "ns/p")
			if err != nil {
				t.Fatal(err)
			}
			if after != tt.requeueIn {
				t.Errorf("requeue in %s, want %s", after, tt.requeueIn)
			}
			var verbs []string
			for _, a := range f.client.Actions() {
				verbs = append(verbs, a.GetVerb()+"/"+a.GetSubresource())
			}
			if got := strings.Join(verbs, ","); tt.deleted != (got == "update/status,delete/") {
				t.Errorf("actions %s, deleted %v", got, tt.deleted)
			}
			if !tt.deleted {
				return
			}
			upd := f.client.Actions()[0].(interface{ GetObject() runtime.Object }).GetObject().(*corev1.Pod)
			c := upd.Status.Conditions[len(upd.Status.Conditions)-1]
			if c.Type != corev1.DisruptionTarget || c.Reason != "DeletionByTaintManager" || c.Message != "Taint manager: deleting due to NoExecute taint" {
				t.Errorf("condition %+v", c)
			}
			select {
			case e := <-f.events.Events:
				if e != "Normal TaintManagerEviction Marking for deletion Pod ns/p" {
					t.Errorf("event %q", e)
				}
			default:
				t.Errorf("no event")
			}
		})
	}
}
