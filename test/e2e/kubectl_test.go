package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func manifests() string { return filepath.Join(repoRoot, "examples", "ml-model", "k8s") }

// TestSeedWorkflow drives the seed's kubectl workflow against a server on
// its embedded etcd.
func TestSeedWorkflow(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	seedWorkflow(t, s)
}

// seedWorkflow is the suite shared by the embedded and external etcd runs.
func seedWorkflow(t *testing.T, s *server) {
	if code := s.anonymousGet("/api/v1/namespaces"); code != 401 {
		t.Errorf("anonymous request: status %d, want 401", code)
	}
	// What system:public-info-viewer lets anyone read.
	for _, path := range []string{"/version", "/healthz", "/readyz", "/livez"} {
		if code := s.anonymousGet(path); code != 200 {
			t.Errorf("anonymous GET %s: status %d, want 200", path, code)
		}
	}
	out := s.ok("create", "namespace", "production")
	if strings.TrimSpace(out) != "namespace/production created" {
		t.Errorf("create namespace printed %q", out)
	}
	out = s.ok("create", "secret", "generic", "gcp-credentials", "--from-literal=project_id=demo", "-n", "production")
	if strings.TrimSpace(out) != "secret/gcp-credentials created" {
		t.Errorf("create secret printed %q", out)
	}

	out = s.ok("apply", "-f", manifests())
	for _, want := range []string{
		"deployment.apps/ml-model created",
		"horizontalpodautoscaler.autoscaling/ml-model-hpa created",
		"service/ml-model-service created",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first apply: missing %q in\n%s", want, out)
		}
	}
	out = s.ok("apply", "-f", manifests())
	for _, want := range []string{
		"deployment.apps/ml-model unchanged",
		"horizontalpodautoscaler.autoscaling/ml-model-hpa unchanged",
		"service/ml-model-service unchanged",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("second apply: missing %q in\n%s", want, out)
		}
	}

	t.Run("columns", func(t *testing.T) {
		out := s.ok("get", "deployments,services,hpa", "-n", "production")
		for _, re := range []string{
			`NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE`,
			`deployment.apps/ml-model\s+0/3\s+[03]\s+0\s+\d+s`,
			`NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE`,
			`service/ml-model-service\s+LoadBalancer\s+10\.43\.\d+\.\d+\s+<pending>\s+80:3\d{4}/TCP\s+\d+s`,
			`NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS\s+AGE`,
			// REPLICAS: 0 until the HPA controller has read the scale (3).
			`horizontalpodautoscaler.autoscaling/ml-model-hpa\s+Deployment/ml-model\s+cpu: <unknown>/70%\s+2\s+10\s+[03]\s+\d+s`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("kubectl get: no line matches %s in\n%s", re, out)
			}
		}
	})

	t.Run("defaults", func(t *testing.T) {
		out := s.ok("get", "deployment", "ml-model", "-n", "production", "-o", "yaml")
		for _, want := range []string{
			"revisionHistoryLimit: 10",
			"progressDeadlineSeconds: 600",
			"terminationGracePeriodSeconds: 30",
			"dnsPolicy: ClusterFirst",
			"restartPolicy: Always",
			"schedulerName: default-scheduler",
			"imagePullPolicy: IfNotPresent",
			"terminationMessagePath: /dev/termination-log",
			"type: RollingUpdate",
			"maxSurge: 1",
			"maxUnavailable: 0",
			"protocol: TCP",
			"generation: 1",
			"timeoutSeconds: 1",
			"failureThreshold: 3",
			"scheme: HTTP",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("deployment yaml lacks %q:\n%s", want, out)
			}
		}
		out = s.ok("get", "service", "ml-model-service", "-n", "production", "-o", "yaml")
		for _, re := range []string{`clusterIP: 10\.43\.\d+\.\d+`, `targetPort: 8000`, `sessionAffinity: None`, `externalTrafficPolicy: Cluster`, `nodePort: 3\d{4}`, `ipFamilyPolicy: SingleStack`} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("service yaml lacks %s:\n%s", re, out)
			}
		}
	})

	t.Run("scale", func(t *testing.T) {
		out := s.ok("scale", "deployment", "ml-model", "--replicas=5", "-n", "production")
		if strings.TrimSpace(out) != "deployment.apps/ml-model scaled" {
			t.Errorf("scale printed %q", out)
		}
		if got := s.ok("get", "deployment", "ml-model", "-n", "production", "-o", "jsonpath={.spec.replicas}"); got != "5" {
			t.Errorf("replicas after scale = %q, want 5", got)
		}
	})

	t.Run("set image", func(t *testing.T) {
		out := s.ok("set", "image", "deployment/ml-model", "ml-model=gcr.io/my-project/ml-model:v3", "-n", "production")
		if strings.TrimSpace(out) != "deployment.apps/ml-model image updated" {
			t.Errorf("set image printed %q", out)
		}
		got := s.ok("get", "deployment", "ml-model", "-n", "production", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}")
		if got != "gcr.io/my-project/ml-model:v3 3" {
			t.Errorf("image and generation = %q, want the v3 image at generation 3", got)
		}
	})

	t.Run("label and annotate", func(t *testing.T) {
		s.ok("label", "deployment", "ml-model", "team=ml", "-n", "production")
		s.ok("annotate", "deployment", "ml-model", "owner=alice", "-n", "production")
		got := s.ok("get", "deployment", "-l", "team=ml", "-n", "production", "-o", "jsonpath={.items[*].metadata.annotations.owner}")
		if got != "alice" {
			t.Errorf("annotation through label selector = %q", got)
		}
		if got := s.ok("get", "deployment", "-l", "team=other", "-n", "production", "-o", "name"); got != "" {
			t.Errorf("selector team=other matched %q", got)
		}
	})

	t.Run("edit", func(t *testing.T) {
		editor := filepath.Join(t.TempDir(), "editor.sh")
		script := "#!/bin/sh\nsed -i 's/minReplicas: 2/minReplicas: 3/' \"$1\"\n"
		if err := os.WriteFile(editor, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		r := s.kubectl("", []string{"EDITOR=" + editor, "KUBE_EDITOR=" + editor}, "edit", "hpa", "ml-model-hpa", "-n", "production")
		if r.Code != 0 || !strings.Contains(r.Stdout, "horizontalpodautoscaler.autoscaling/ml-model-hpa edited") {
			t.Fatalf("edit: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
		}
		if got := s.ok("get", "hpa", "ml-model-hpa", "-n", "production", "-o", "jsonpath={.spec.minReplicas}"); got != "3" {
			t.Errorf("minReplicas after edit = %q", got)
		}
	})

	t.Run("patch", func(t *testing.T) {
		s.ok("patch", "deployment", "ml-model", "-n", "production", "--type=strategic", "-p",
			`{"spec":{"template":{"spec":{"containers":[{"name":"ml-model","env":[{"name":"LOG_LEVEL","value":"debug"}]}]}}}}`)
		env := s.ok("get", "deployment", "ml-model", "-n", "production", "-o", "jsonpath={.spec.template.spec.containers[0].env[*].name}")
		if env != "LOG_LEVEL MODEL_VERSION GCP_PROJECT" && env != "MODEL_VERSION GCP_PROJECT LOG_LEVEL" {
			t.Errorf("strategic merge patch should merge env by name, got %q", env)
		}
		s.ok("patch", "deployment", "ml-model", "-n", "production", "--type=merge", "-p", `{"spec":{"minReadySeconds":5}}`)
		s.ok("patch", "deployment", "ml-model", "-n", "production", "--type=json", "-p", `[{"op":"replace","path":"/spec/revisionHistoryLimit","value":4}]`)
		got := s.ok("get", "deployment", "ml-model", "-n", "production", "-o", "jsonpath={.spec.minReadySeconds} {.spec.revisionHistoryLimit}")
		if got != "5 4" {
			t.Errorf("after merge and json patches: %q, want \"5 4\"", got)
		}
	})

	t.Run("server-side apply", func(t *testing.T) {
		cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: model-config\n  namespace: production\ndata:\n  threshold: \"0.5\"\n"
		r := s.kubectl(cm, nil, "apply", "--server-side", "-f", "-")
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "configmap/model-config serverside-applied" {
			t.Fatalf("apply --server-side: exit %d %q %q", r.Code, r.Stdout, r.Stderr)
		}
		out := s.ok("get", "configmap", "model-config", "-n", "production", "-o", "yaml", "--show-managed-fields")
		if !strings.Contains(out, "manager: kubectl") || !strings.Contains(out, "operation: Apply") {
			t.Errorf("managedFields lack kubectl's Apply entry:\n%s", out)
		}
		// Another manager changing the same field conflicts.
		r = s.kubectl(strings.Replace(cm, "0.5", "0.9", 1), nil, "apply", "--server-side", "--field-manager=other", "-f", "-")
		if r.Code == 0 || !strings.Contains(r.Stderr, "conflict") {
			t.Errorf("conflicting apply by another manager: exit %d, stderr %q", r.Code, r.Stderr)
		}
	})

	t.Run("diff", func(t *testing.T) {
		r := s.kubectl("", nil, "diff", "-f", manifests())
		// The cluster now differs from the files (scaled, new image): exit 1 with a diff.
		if r.Code != 1 || !strings.Contains(r.Stdout, "-  replicas: 5") || !strings.Contains(r.Stdout, "+  replicas: 3") {
			t.Errorf("diff: exit %d, stdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
		}
	})

	t.Run("explain", func(t *testing.T) {
		out := s.ok("explain", "deployment.spec.strategy")
		for _, want := range []string{"GROUP:      apps", "KIND:       Deployment", "FIELD: strategy <DeploymentStrategy>", "rollingUpdate", "type"} {
			if !strings.Contains(out, want) {
				t.Errorf("explain lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("watch", func(t *testing.T) {
		w := s.watch("get", "configmaps", "-n", "production", "-w", "--output-watch-events")
		s.ok("create", "configmap", "watched", "-n", "production", "--from-literal=a=b")
		w.waitFor(t, regexp.MustCompile(`ADDED\s+watched\s+1`))
		s.ok("delete", "configmap", "watched", "-n", "production")
		w.waitFor(t, regexp.MustCompile(`DELETED\s+watched\s+1`))
		w.stop()
	})

	t.Run("delete", func(t *testing.T) {
		out := s.ok("delete", "-f", manifests())
		for _, want := range []string{`deployment.apps "ml-model" deleted`, `service "ml-model-service" deleted`, `horizontalpodautoscaler.autoscaling "ml-model-hpa" deleted`} {
			if !strings.Contains(out, want) {
				t.Errorf("delete -f lacks %q:\n%s", want, out)
			}
		}
		r := s.kubectl("", nil, "get", "deployment", "ml-model", "-n", "production")
		if r.Code == 0 || !strings.Contains(r.Stderr, `deployments.apps "ml-model" not found`) {
			t.Errorf("get after delete: exit %d %q", r.Code, r.Stderr)
		}
	})
}

// watcher is a running `kubectl get -w`.
type watcher struct {
	out  *syncBuffer
	done chan struct{}
	kill func()
}

func (s *server) watch(args ...string) *watcher {
	s.t.Helper()
	cmd := execKubectl(s, args...)
	w := &watcher{out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = w.out, w.out
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(w.done) }()
	w.kill = func() { _ = cmd.Process.Kill(); <-w.done }
	s.t.Cleanup(w.stop)
	// No wait for the watch to be established: kubectl lists, prints what
	// it listed, then watches from the list's resourceVersion, so a change
	// the caller makes now is printed either way (as listed or as watched).
	return w
}

func (w *watcher) stop() {
	select {
	case <-w.done:
	default:
		w.kill()
	}
}

func (w *watcher) waitFor(t *testing.T, re *regexp.Regexp) {
	t.Helper()
	err := poll(50*time.Millisecond, 20*time.Second, func() error {
		if !re.MatchString(w.out.String()) {
			return errors.New("no match yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("watch output never matched %s:\n%s", re, w.out.String())
	}
}
