//go:build integration

package podautoscaler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/controller/podautoscaler"
	"skiff.dev/skiff/internal/testserver"
)

// cpuSource serves every pod the same CPU usage (millicores), changeable
// while the test runs. metrics.k8s.io is served by another component; the
// controller's reads of it are tested there.
type cpuSource struct {
	mu    sync.Mutex
	milli int64
}

func (s *cpuSource) set(m int64) { s.mu.Lock(); s.milli = m; s.mu.Unlock() }

func (s *cpuSource) PodResource(_ context.Context, _ corev1.ResourceName, _ string, _ labels.Selector, _ string) (podautoscaler.PodMetrics, time.Time, error) {
	return nil, time.Time{}, errors.New("unused")
}

func (s *cpuSource) PodsMetric(context.Context, string, string, labels.Selector, labels.Selector) (podautoscaler.PodMetrics, time.Time, error) {
	return nil, time.Time{}, errors.New("no metrics returned from custom metrics API")
}

func (s *cpuSource) ObjectMetric(context.Context, string, string, *autoscalingv2.CrossVersionObjectReference, labels.Selector) (int64, time.Time, error) {
	return 0, time.Time{}, errors.New("no metrics returned from custom metrics API")
}

func (s *cpuSource) ExternalMetric(context.Context, string, string, labels.Selector) ([]int64, time.Time, error) {
	return nil, time.Time{}, errors.New("no metrics returned from external metrics API")
}

// podSource gives each listed pod the current usage.
type podSource struct {
	*cpuSource
	client kubernetes.Interface
}

func (s podSource) PodResource(ctx context.Context, _ corev1.ResourceName, ns string, sel labels.Selector, _ string) (podautoscaler.PodMetrics, time.Time, error) {
	pods, err := s.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := podautoscaler.PodMetrics{}
	now := time.Now()
	for _, p := range pods.Items {
		out[p.Name] = podautoscaler.PodMetric{Timestamp: now, Window: 15 * time.Second, Value: s.milli}
	}
	return out, now, nil
}

// keepPods plays the ReplicaSet controller and the kubelet for the
// deployment: as many running, ready pods (requesting 1 CPU, started long
// ago) as it has replicas.
func keepPods(ctx context.Context, cs kubernetes.Interface, name string) {
	go func() {
		for ctx.Err() == nil {
			d, err := cs.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
				for i := len(pods.Items); i < int(*d.Spec.Replicas); i++ {
					createReadyPod(ctx, cs, fmt.Sprintf("%s-%d", name, i), name)
				}
				for i := len(pods.Items) - 1; i >= int(*d.Spec.Replicas); i-- {
					_ = cs.CoreV1().Pods("default").Delete(ctx, fmt.Sprintf("%s-%d", name, i), metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
}

func createReadyPod(ctx context.Context, cs kubernetes.Interface, name, app string) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{NodeName: "n", Containers: []corev1.Container{{Name: "c", Image: "img", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}},
	}
	p, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		return
	}
	start := metav1.NewTime(time.Now().Add(-time.Hour))
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &start,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: start}}}
	_, _ = cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{})
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
		},
	}
}

func hpa(name, target string, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target},
			MinReplicas:    ptr.To[int32](2),
			MaxReplicas:    10,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](70)},
			}}},
			Behavior: behavior,
		},
	}
}

// Against a real API server, through the deployments' scale subresource:
// CPU above target scales a Deployment up and the HPA's status (v2 and v1)
// shows the utilization; below target it scales back once the scale-down
// window has passed; an HPA of a missing Deployment gets FailedGetScale.
func TestHorizontalPodAutoscaler(t *testing.T) {
	s := testserver.Start(t, nil)
	cs := s.Client
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	if _, err := cs.AppsV1().Deployments("default").Create(ctx, deployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	keepPods(ctx, cs, "web")
	src := podSource{cpuSource: &cpuSource{milli: 1400}, client: cs} // 140 % of the request
	scales, mapper, err := podautoscaler.NewScaleClient(s.Config, cs.Discovery())
	if err != nil {
		t.Fatal(err)
	}
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	t.Cleanup(b.Shutdown)
	factory := informers.NewSharedInformerFactory(cs, 0)
	c := podautoscaler.New(cs, scales, mapper, src, factory, b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "horizontal-pod-autoscaler"}),
		podautoscaler.Options{SyncPeriod: 200 * time.Millisecond, DownscaleStabilization: 2 * time.Second})
	factory.Start(ctx.Done())
	go c.Run(ctx)

	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, hpa("web", "web", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicas := func(want int32) func() error {
		return func() error {
			d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if *d.Spec.Replicas != want {
				return fmt.Errorf("replicas %d, want %d", *d.Spec.Replicas, want)
			}
			return nil
		}
	}
	testserver.Poll(t, 20*time.Second, "scaled up to 4 (twice 2, the limit without behavior)", replicas(4))
	testserver.Poll(t, 20*time.Second, "event SuccessfulRescale", func() error {
		evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web,reason=SuccessfulRescale"})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Message == "New size: 4; reason: cpu resource utilization (percentage of request) above target" && e.Type == corev1.EventTypeNormal {
				return nil
			}
		}
		return fmt.Errorf("events %+v", evs.Items)
	})
	testserver.Poll(t, 20*time.Second, "v1 status with the CPU utilization", func() error {
		h, err := cs.AutoscalingV1().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if h.Status.CurrentCPUUtilizationPercentage == nil || *h.Status.CurrentCPUUtilizationPercentage != 140 || h.Status.LastScaleTime == nil {
			return fmt.Errorf("status %+v", h.Status)
		}
		return nil
	})

	// kubectl get hpa's TARGETS column, from the server's Table.
	testserver.Poll(t, 20*time.Second, "TARGETS cpu: 140%/70%", func() error {
		raw, err := cs.AutoscalingV2().RESTClient().Get().Namespace("default").Resource("horizontalpodautoscalers").Name("web").
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
		if err != nil {
			return err
		}
		var table metav1.Table
		if err := json.Unmarshal(raw, &table); err != nil {
			return err
		}
		for i, col := range table.ColumnDefinitions {
			if col.Name == "Targets" && len(table.Rows) == 1 {
				if got := table.Rows[0].Cells[i]; got != "cpu: 140%/70%" {
					return fmt.Errorf("targets %v", got)
				}
				return nil
			}
		}
		return fmt.Errorf("no Targets column in %s", raw)
	})

	// 140 % on 4 pods asks for 8.
	testserver.Poll(t, 20*time.Second, "scaled up to 8", replicas(8))
	src.set(100) // 10 %: 2 would do, once the 2 s window has passed
	testserver.Poll(t, 20*time.Second, "scaled down to the minimum", replicas(2))
	h, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []autoscalingv2.HorizontalPodAutoscalerCondition{
		{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionTrue, Reason: "ValidMetricFound"},
	} {
		found := false
		for _, c := range h.Status.Conditions {
			found = found || (c.Type == want.Type && c.Status == want.Status && c.Reason == want.Reason)
		}
		if !found {
			t.Errorf("no condition %s=%s %s in %+v", want.Type, want.Status, want.Reason, h.Status.Conditions)
		}
	}

	// Bad input: the target does not exist.
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, hpa("ghost", "ghost", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 20*time.Second, "FailedGetScale on the HPA of a missing Deployment", func() error {
		h, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "ghost", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range h.Status.Conditions {
			if c.Type == autoscalingv2.AbleToScale && c.Status == corev1.ConditionFalse && c.Reason == "FailedGetScale" {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", h.Status.Conditions)
	})

	// minReplicas > maxReplicas is refused with Kubernetes' message.
	bad := hpa("bad", "web", nil)
	bad.Spec.MinReplicas = ptr.To[int32](5)
	bad.Spec.MaxReplicas = 3
	_, err = cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, bad, metav1.CreateOptions{})
	if err == nil || err.Error() != "HorizontalPodAutoscaler.autoscaling \"bad\" is invalid: spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`" {
		t.Errorf("minReplicas > maxReplicas: %v", err)
	}
}
