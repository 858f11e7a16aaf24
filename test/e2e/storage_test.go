package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPersistentVolumes: claims of the default class local-path wait for
// their first pod, are provisioned as a directory on that pod's node and
// bound; the data outlives the pod; deleting the claim deletes the volume
// and its directory (reclaimPolicy Delete), or keeps it Released (Retain).
// The process runtime, on this server's own node.
func TestPersistentVolumes(t *testing.T) {
	n := startNodeSuite(t, "process")
	s, c, ctx := n.s, n.s.client(), context.Background()

	if out := s.ok("get", "storageclass"); !strings.Contains(out, "local-path (default)") ||
		!strings.Contains(out, "skiff.dev/local-path") || !strings.Contains(out, "WaitForFirstConsumer") {
		t.Fatalf("kubectl get storageclass:\n%s", out)
	}

	claim := func(name, class string) *corev1.PersistentVolumeClaim {
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")}},
			}}
		if class != "" {
			pvc.Spec.StorageClassName = &class
		}
		if _, err := c.CoreV1().PersistentVolumeClaims("default").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return pvc
	}
	mountDir := filepath.Join(t.TempDir(), "data") // the process runtime mounts over a host path
	podUsing := func(name, claimName, script string) {
		ctr := n.shellContainer("main", script)
		ctr.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: mountDir}}
		never := corev1.RestartPolicyNever
		n.createPod("default", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			RestartPolicy: never, Containers: []corev1.Container{ctr},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName}}}},
		}})
	}
	succeeded := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded }
	getClaim := func(name string) *corev1.PersistentVolumeClaim {
		pvc, err := c.CoreV1().PersistentVolumeClaims("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return pvc
	}

	// No class given: DefaultStorageClass admission gives local-path; it
	// waits for its first consumer.
	claim("data", "")
	if got := getClaim("data"); got.Spec.StorageClassName == nil || *got.Spec.StorageClassName != "local-path" {
		t.Fatalf("claim's storageClassName = %v, want local-path", got.Spec.StorageClassName)
	}
	eventually(t, 20*time.Second, "WaitForFirstConsumer event", func() bool {
		return strings.Contains(s.ok("describe", "pvc", "data"), "WaitForFirstConsumer")
	})
	if out := s.ok("get", "pvc", "data"); !strings.Contains(out, "Pending") {
		t.Fatalf("claim without a pod:\n%s", out)
	}

	podUsing("writer", "data", "echo kept > "+mountDir+"/file")
	n.waitPod("default", "writer", 60*time.Second, "Succeeded", succeeded)
	pvc := getClaim("data")
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Annotations["volume.kubernetes.io/selected-node"] != n.node {
		t.Fatalf("claim after its pod ran: phase %s, annotations %v", pvc.Status.Phase, pvc.Annotations)
	}
	pv, err := c.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pv.Spec.Local == nil || pv.Spec.NodeAffinity == nil || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Fatalf("provisioned volume: %+v", pv.Spec)
	}
	dir := pv.Spec.Local.Path
	if b, err := os.ReadFile(filepath.Join(dir, "file")); err != nil || strings.TrimSpace(string(b)) != "kept" {
		t.Fatalf("volume directory %s: %q %v", dir, b, err)
	}
	if out := s.ok("get", "pv"); !strings.Contains(out, pv.Name) || !strings.Contains(out, "Bound") || !strings.Contains(out, "default/data") {
		t.Fatalf("kubectl get pv:\n%s", out)
	}

	// Deleting the pod keeps the claim; a new pod reads the file.
	s.ok("delete", "pod", "writer")
	if getClaim("data").Status.Phase != corev1.ClaimBound {
		t.Fatal("claim not Bound after its pod was deleted")
	}
	podUsing("reader", "data", "grep -qx kept "+mountDir+"/file")
	n.waitPod("default", "reader", 60*time.Second, "Succeeded (the file is there)", succeeded)
	if p, _ := c.CoreV1().Pods("default").Get(ctx, "reader", metav1.GetOptions{}); p.Spec.NodeName != n.node {
		t.Fatalf("reader ran on %q, not the volume's node %q", p.Spec.NodeName, n.node)
	}
	s.ok("delete", "pod", "reader")

	// Delete: the claim takes the volume and its directory with it.
	s.ok("delete", "pvc", "data")
	eventually(t, 30*time.Second, "volume "+pv.Name+" deleted", func() bool {
		_, err := c.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	eventually(t, 10*time.Second, "directory "+dir+" removed", func() bool {
		_, err := os.Stat(dir)
		return errors.Is(err, os.ErrNotExist)
	})

	// Retain: the volume stays, Released, with its data.
	if r := s.kubectl(retainClass, nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("kubectl apply storageclass: %d %s", r.Code, r.Stderr)
	}
	claim("kept", "keep")
	podUsing("keeper", "kept", "echo retained > "+mountDir+"/file")
	n.waitPod("default", "keeper", 60*time.Second, "Succeeded", succeeded)
	kept := getClaim("kept").Spec.VolumeName
	s.ok("delete", "pod", "keeper")
	s.ok("delete", "pvc", "kept")
	eventually(t, 30*time.Second, "volume "+kept+" Released", func() bool {
		pv, err := c.CoreV1().PersistentVolumes().Get(ctx, kept, metav1.GetOptions{})
		return err == nil && pv.Status.Phase == corev1.VolumeReleased
	})
	if out := s.ok("get", "pv", kept); !strings.Contains(out, "Released") || !strings.Contains(out, "Retain") {
		t.Fatalf("kubectl get pv %s:\n%s", kept, out)
	}
	pv, err = c.CoreV1().PersistentVolumes().Get(ctx, kept, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(pv.Spec.Local.Path, "file")); err != nil || strings.TrimSpace(string(b)) != "retained" {
		t.Fatalf("retained volume's data: %q %v", b, err)
	}

	t.Run("statefulset", func(t *testing.T) { statefulSetVolumes(t, n, mountDir) })
}

// statefulSetVolumes: a StatefulSet of 3 with a volumeClaimTemplate starts
// its pods in order, each with a claim of its own; what web-1 wrote is
// there after web-1 is deleted and comes back; scaling down keeps the
// claims; kubectl rollout undo statefulset brings the last template back.
func statefulSetVolumes(t *testing.T, n *nodeSuite, mountDir string) {
	s, c, ctx := n.s, n.s.client(), context.Background()
	ctr := n.shellContainer("web", "exec sleep 3600")
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %s
        command: [%q, "-c", %q]
        volumeMounts: [{name: data, mountPath: %q}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 64Mi}}
`, ctr.Image, ctr.Command[0], ctr.Command[2], mountDir)
	if r := s.kubectl(manifest, nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("kubectl apply: %d %s", r.Code, r.Stderr)
	}
	eventually(t, 120*time.Second, "web-0, web-1, web-2 Running and Ready", func() bool { return readyRunning(t, c, "default", "app=web", 3) })
	// OrderedReady: each pod was created only once the one before it was
	// Ready.
	pods := map[string]corev1.Pod{}
	for _, p := range livePods(t, c, "default", "app=web") {
		pods[p.Name] = p
	}
	for i := 1; i < 3; i++ {
		prev, cur := pods[fmt.Sprintf("web-%d", i-1)], pods[fmt.Sprintf("web-%d", i)]
		var readyAt time.Time
		for _, cond := range prev.Status.Conditions {
			if cond.Type == corev1.PodReady {
				readyAt = cond.LastTransitionTime.Time
			}
		}
		if readyAt.IsZero() || cur.CreationTimestamp.Time.Before(readyAt.Truncate(time.Second)) {
			t.Fatalf("%s created at %s, before %s was Ready (%s)", cur.Name, cur.CreationTimestamp, prev.Name, readyAt)
		}
	}
	for i := 0; i < 3; i++ {
		pvc, err := c.CoreV1().PersistentVolumeClaims("default").Get(ctx, fmt.Sprintf("data-web-%d", i), metav1.GetOptions{})
		if err != nil || pvc.Status.Phase != corev1.ClaimBound {
			t.Fatalf("claim data-web-%d: %v %+v", i, err, pvc)
		}
	}

	s.ok("exec", "web-1", "--", n.shell, "-c", "echo written-by-web-1 > "+mountDir+"/file")
	old := pods["web-1"].UID
	s.ok("delete", "pod", "web-1")
	eventually(t, 90*time.Second, "web-1 back, Running and Ready", func() bool {
		p, err := c.CoreV1().Pods("default").Get(ctx, "web-1", metav1.GetOptions{})
		return err == nil && p.UID != old && readyRunning(t, c, "default", "app=web", 3)
	})
	if out := s.ok("exec", "web-1", "--", n.shell, "-c", "cat "+mountDir+"/file"); strings.TrimSpace(out) != "written-by-web-1" {
		t.Fatalf("web-1's volume after the pod came back: %q", out)
	}

	s.ok("set", "env", "statefulset/web", "MODEL_VERSION=v2")
	eventually(t, 120*time.Second, "the rollout of MODEL_VERSION=v2", func() bool {
		return s.kubectl("", nil, "rollout", "status", "statefulset/web", "--timeout=1s").Code == 0
	})
	// kubectl warns that the apply annotation is not rolled back.
	if r := s.kubectl("", nil, "rollout", "undo", "statefulset/web"); r.Code != 0 || !strings.Contains(r.Stdout, "rolled back") {
		t.Fatalf("kubectl rollout undo: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	eventually(t, 120*time.Second, "the rollout back", func() bool {
		return s.kubectl("", nil, "rollout", "status", "statefulset/web", "--timeout=1s").Code == 0
	})
	if env := s.ok("get", "statefulset", "web", "-o", "jsonpath={.spec.template.spec.containers[0].env}"); strings.Contains(env, "MODEL_VERSION") {
		t.Fatalf("after rollout undo the template still has MODEL_VERSION: %s", env)
	}

	s.ok("scale", "statefulset/web", "--replicas=1")
	eventually(t, 60*time.Second, "web-1 and web-2 gone", func() bool { return len(livePods(t, c, "default", "app=web")) == 1 })
	out := s.ok("get", "pvc")
	for i := 0; i < 3; i++ {
		if !regexp.MustCompile(fmt.Sprintf(`data-web-%d\s+Bound`, i)).MatchString(out) {
			t.Fatalf("claims after scaling down to 1 (all three are kept):\n%s", out)
		}
	}
}

const retainClass = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: keep
provisioner: skiff.dev/local-path
reclaimPolicy: Retain
volumeBindingMode: WaitForFirstConsumer
`
