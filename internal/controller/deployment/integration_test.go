//go:build integration

package deployment_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"skiff.dev/skiff/internal/controller/deployment"
	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/controller/replicaset"
	"skiff.dev/skiff/internal/testserver"
)

// startControllers runs the ReplicaSet and Deployment controllers against
// the server, and a stand-in kubelet that marks every new pod Running and
// Ready.
func startControllers(t *testing.T, client kubernetes.Interface) (informers.SharedInformerFactory, context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	rsc := replicaset.New(client, factory, broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "replicaset-controller"}), replicaset.Options{Options: queue.Options{Workers: 2}})
	dc := deployment.New(client, factory, broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "deployment-controller"}), deployment.Options{Options: queue.Options{Workers: 2}})
	_, err := factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { markReady(ctx, t, client, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { markReady(ctx, t, client, obj.(*corev1.Pod)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	factory.Start(ctx.Done())
	wg.Go(func() { rsc.Run(ctx) })
	wg.Go(func() { dc.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		broadcaster.Shutdown()
		factory.Shutdown()
	})
	return factory, ctx
}

func markReady(ctx context.Context, t *testing.T, client kubernetes.Interface, pod *corev1.Pod) {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodRunning {
		return
	}
	p := pod.DeepCopy()
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	if _, err := client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil &&
		!apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
		t.Logf("marking pod %s ready: %v", p.Name, err)
	}
}

func waitFor(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func complete(client kubernetes.Interface, name string, image string) func(ctx context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		d, err := client.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := d.Status
		var progressing string
		for _, c := range s.Conditions {
			if c.Type == appsv1.DeploymentProgressing {
				progressing = c.Reason
			}
		}
		return d.Spec.Template.Spec.Containers[0].Image == image && s.ObservedGeneration == d.Generation &&
			s.Replicas == 3 && s.UpdatedReplicas == 3 && s.AvailableReplicas == 3 && s.ReadyReplicas == 3 &&
			progressing == "NewReplicaSetAvailable", nil
	}
}

func setImage(t *testing.T, client kubernetes.Interface, image, cause string) {
	t.Helper()
	ctx := context.Background()
	d, err := client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = image
	d.Annotations["kubernetes.io/change-cause"] = cause
	if _, err := client.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRollingUpdate(t *testing.T) {
	s := testserver.Start(t, nil)
	client := s.Client
	factory, ctx := startControllers(t, client)

	// Watch the rollout from the caches: the ReplicaSets' total size must
	// never pass replicas+maxSurge, live pods never exceed it, and ready
	// pods never drop under replicas-maxUnavailable once there.
	var (
		mu               sync.Mutex
		maxSpec, maxPods int32
		minReady         = int32(-1)
		watching         bool
	)
	rsLister := factory.Apps().V1().ReplicaSets().Lister()
	podLister := factory.Core().V1().Pods().Lister()
	observe := func(any) {
		mu.Lock()
		defer mu.Unlock()
		if !watching {
			return
		}
		rss, _ := rsLister.ReplicaSets("default").List(labels.Everything())
		var spec int32
		for _, rs := range rss {
			spec += *rs.Spec.Replicas
		}
		pods, _ := podLister.Pods("default").List(labels.SelectorFromSet(labels.Set{"app": "web"}))
		var live, ready int32
		for _, p := range pods {
			if p.DeletionTimestamp != nil {
				continue
			}
			live++
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		maxSpec, maxPods = max(maxSpec, spec), max(maxPods, live)
		if minReady < 0 || ready < minReady {
			minReady = ready
		}
	}
	h := cache.ResourceEventHandlerFuncs{AddFunc: observe, UpdateFunc: func(_, o any) { observe(o) }, DeleteFunc: observe}
	for _, inf := range []cache.SharedIndexInformer{factory.Apps().V1().ReplicaSets().Informer(), factory.Core().V1().Pods().Informer()} {
		if _, err := inf.AddEventHandler(h); err != nil {
			t.Fatal(err)
		}
	}

	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default",
			Annotations: map[string]string{"kubernetes.io/change-cause": "v1"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "model", Image: "model:v1"}}},
			},
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: new(intstr.FromInt32(1)), MaxUnavailable: new(intstr.FromInt32(0))},
			},
			RevisionHistoryLimit: new(int32(1)),
		},
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v1 available", complete(client, "web", "model:v1"))
	available := func(ctx context.Context) (bool, error) {
		d, err := client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable {
				return c.Status == corev1.ConditionTrue && c.Reason == "MinimumReplicasAvailable" && c.Message == "Deployment has minimum availability.", nil
			}
		}
		return false, nil
	}
	waitFor(t, "Available condition", available)

	mu.Lock()
	watching = true
	mu.Unlock()
	setImage(t, client, "model:v2", "v2")
	waitFor(t, "v2 rolled out", complete(client, "web", "model:v2"))
	mu.Lock()
	watching = false
	t.Logf("during the rollout: replicaset total up to %d, live pods up to %d, ready down to %d", maxSpec, maxPods, minReady)
	// maxSurge bounds the ReplicaSets' replicas, as in Kubernetes: for a
	// moment a new pod may exist before the old ReplicaSet's controller has
	// deleted the pod its scale-down asked for, so live pods are reported,
	// not bounded. maxUnavailable 0 bounds the ready pods.
	if maxSpec > 4 || minReady < 3 {
		t.Errorf("during the rollout: replicaset total up to %d, ready pods down to %d; want <=4, >=3", maxSpec, minReady)
	}
	mu.Unlock()

	setImage(t, client, "model:v3", "v3")
	waitFor(t, "v3 rolled out", complete(client, "web", "model:v3"))

	// revisionHistoryLimit 1: v3 and one old ReplicaSet (v2) remain.
	revisions := func() map[string]*appsv1.ReplicaSet {
		rss, err := client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*appsv1.ReplicaSet{}
		for i := range rss.Items {
			out[rss.Items[i].Spec.Template.Spec.Containers[0].Image] = &rss.Items[i]
		}
		return out
	}
	waitFor(t, "old ReplicaSets cleaned up", func(context.Context) (bool, error) {
		r := revisions()
		return len(r) == 2 && r["model:v1"] == nil, nil
	})
	r := revisions()
	if got := r["model:v2"].Annotations[deployment.RevisionAnnotation]; got != "2" {
		t.Errorf("v2 revision %q, want 2", got)
	}
	if got := r["model:v3"].Annotations; got[deployment.RevisionAnnotation] != "3" || got["kubernetes.io/change-cause"] != "v3" {
		t.Errorf("v3 annotations %v, want revision 3 and change-cause v3", got)
	}
	if !strings.HasPrefix(r["model:v3"].Name, "web-") || r["model:v3"].Labels[appsv1.DefaultDeploymentUniqueLabelKey] == "" {
		t.Errorf("v3 replicaset %s labels %v", r["model:v3"].Name, r["model:v3"].Labels)
	}

	// kubectl rollout undo: the v2 template (without its hash label) and
	// annotations go back on the Deployment; the controller reuses the v2
	// ReplicaSet under revision 4.
	undo, err := client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := r["model:v2"].Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	undo.Spec.Template = *tmpl
	undo.Annotations["kubernetes.io/change-cause"] = "v2"
	if _, err := client.AppsV1().Deployments("default").Update(ctx, undo, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "rolled back to v2", complete(client, "web", "model:v2"))
	waitFor(t, "v2 at revision 4", func(context.Context) (bool, error) {
		v2 := revisions()["model:v2"]
		return v2 != nil && v2.Annotations[deployment.RevisionAnnotation] == "4" && v2.Annotations[deployment.RevisionHistoryAnnotation] == "2", nil
	})
	if got, err := client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{}); err != nil || got.Annotations[deployment.RevisionAnnotation] != "4" {
		t.Errorf("deployment revision annotation %v (err %v), want 4", got.Annotations, err)
	}

	// kubectl describe shows the scaling events.
	waitFor(t, "ScalingReplicaSet events", func(ctx context.Context) (bool, error) {
		evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		want := fmt.Sprintf("Scaled up replica set %s from 0 to 1", r["model:v3"].Name)
		for _, e := range evs.Items {
			if e.Reason == "ScalingReplicaSet" && e.Message == want && e.InvolvedObject.Kind == "Deployment" {
				return true, nil
			}
		}
		return false, nil
	})
}
