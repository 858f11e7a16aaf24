package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// helmRun runs the Helm 4 command-line against s with a Helm home of the
// test's own; it fails t unless helm exits 0.
func helmRun(t *testing.T, s *server, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	home := filepath.Join(s.dataDir, "helm")
	cmd := exec.CommandContext(ctx, helmBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig,
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// workload is a Deployment, StatefulSet or DaemonSet a chart creates.
type workload struct{ kind, name string }

// workloadReady reports nil when w has all its desired pods updated and
// ready, as the controller that runs it reports in its status; want is the
// desired count it must have (-1: any, for a DaemonSet one per node).
func workloadReady(ctx context.Context, c kubernetes.Interface, ns string, w workload, want int32) error {
	var desired, ready, updated, generation, observed int64
	switch w.kind {
	case "Deployment":
		d, err := c.AppsV1().Deployments(ns).Get(ctx, w.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		desired, ready, updated = int64(*d.Spec.Replicas), int64(d.Status.ReadyReplicas), int64(d.Status.UpdatedReplicas)
		generation, observed = d.Generation, d.Status.ObservedGeneration
		if d.Status.Replicas != *d.Spec.Replicas {
			return fmt.Errorf("deployment %s: %d pods, want %d", w.name, d.Status.Replicas, *d.Spec.Replicas)
		}
	case "StatefulSet":
		ss, err := c.AppsV1().StatefulSets(ns).Get(ctx, w.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		desired, ready, updated = int64(*ss.Spec.Replicas), int64(ss.Status.ReadyReplicas), int64(ss.Status.UpdatedReplicas)
		generation, observed = ss.Generation, ss.Status.ObservedGeneration
		if ss.Status.Replicas != *ss.Spec.Replicas || ss.Status.CurrentRevision != ss.Status.UpdateRevision {
			return fmt.Errorf("statefulset %s: %d pods at %s, want %d at %s", w.name, ss.Status.Replicas, ss.Status.CurrentRevision, *ss.Spec.Replicas, ss.Status.UpdateRevision)
		}
	case "DaemonSet":
		ds, err := c.AppsV1().DaemonSets(ns).Get(ctx, w.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		desired, ready, updated = int64(ds.Status.DesiredNumberScheduled), int64(ds.Status.NumberReady), int64(ds.Status.UpdatedNumberScheduled)
		generation, observed = ds.Generation, ds.Status.ObservedGeneration
		if ds.Status.CurrentNumberScheduled != ds.Status.DesiredNumberScheduled {
			return fmt.Errorf("daemonset %s: %d nodes run a pod, want %d", w.name, ds.Status.CurrentNumberScheduled, desired)
		}
	default:
		return fmt.Errorf("unknown workload kind %s", w.kind)
	}
	switch {
	case observed < generation:
		return fmt.Errorf("%s %s: status of generation %d, want %d", w.kind, w.name, observed, generation)
	case want >= 0 && desired != int64(want):
		return fmt.Errorf("%s %s: %d desired, want %d", w.kind, w.name, desired, want)
	case ready != desired || updated != desired:
		return fmt.Errorf("%s %s: %d ready and %d updated of %d", w.kind, w.name, ready, updated, desired)
	}
	return nil
}

// leftovers lists the objects of every listable resource of the cluster,
// in every namespace, that carry selector. A group whose discovery fails
// (an aggregated API nothing answers for) is skipped, as kubectl does.
func leftovers(ctx context.Context, s *server, selector string) ([]string, error) {
	cfg := s.restConfig()
	// Listing every resource lists deprecated ones (v1 Endpoints) too.
	cfg.WarningHandler = rest.NoWarnings{}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, err
	}
	var left []string
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range l.APIResources {
			if !slices.Contains(r.Verbs, "list") || r.Name == "events" || strings.Contains(r.Name, "/") {
				continue
			}
			objs, err := dyn.Resource(gv.WithResource(r.Name)).List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", r.Name, err)
			}
			for _, o := range objs.Items {
				left = append(left, fmt.Sprintf("%s %s/%s", r.Kind, o.GetNamespace(), o.GetName()))
			}
		}
	}
	return left, nil
}

// chartCase is one chart of test/charts and what its release must show.
type chartCase struct {
	chart, release string
	// install are helm's --set values at install (on hollow nodes).
	install []string
	// upgrade is the --set value helm upgrade changes.
	upgrade string
	// workloads are the chart's Deployments, StatefulSets and DaemonSets.
	workloads []workload
	// observe checks the value that upgrade changes: upgraded or not
	// (after rollback, the install's value is back). It returns nil once
	// the cluster shows it.
	observe func(ctx context.Context, c kubernetes.Interface, ns string, upgraded bool) error
}

// replicasChange is an observe for a chart whose upgrade changes the replicas
// of one workload from before to after.
func replicasChange(w workload, before, after int32) func(context.Context, kubernetes.Interface, string, bool) error {
	return func(ctx context.Context, c kubernetes.Interface, ns string, upgraded bool) error {
		want := before
		if upgraded {
			want = after
		}
		return workloadReady(ctx, c, ns, w, want)
	}
}

// TestHelmCharts is issue 13's Helm acceptance test: six charts in the
// shapes of the public charts users install most (test/charts) go through
// helm install --wait, upgrade with a changed value, rollback and uninstall
// on a server whose nodes are simulated; every workload reaches its desired
// ready count and uninstall leaves nothing of the release behind.
func TestHelmCharts(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--runtime", "fake", "--node-name", "server-0", "--kubelet-port", fmt.Sprint(freePort(t)), "--hollow-nodes", "2")
	c := s.client()
	// The server's own simulated node and the hollow ones.
	const nodeCount = 3
	eventually(t, 60*time.Second, "3 nodes Ready", func() bool {
		return nodeReady(t, c, "server-0") && nodeReady(t, c, "hollow-0") && nodeReady(t, c, "hollow-1")
	})

	cases := []chartCase{{
		chart: "state-exporter", release: "ksm",
		upgrade:   "replicas=2",
		workloads: []workload{{"Deployment", "ksm-state-exporter"}},
		observe:   replicasChange(workload{"Deployment", "ksm-state-exporter"}, 1, 2),
	}, {
		chart: "metrics-api", release: "metrics",
		upgrade:   "metricResolution=30s",
		workloads: []workload{{"Deployment", "metrics-metrics-api"}},
		observe: func(ctx context.Context, c kubernetes.Interface, ns string, upgraded bool) error {
			// The APIService is registered; nothing answers behind it on
			// hollow nodes, so it is not Available, which must break
			// neither helm nor the other releases' discovery.
			out, err := kubectlOut(ctx, s, "get", "apiservice", "v1beta1.metrics.example.com", "-o", "jsonpath={.spec.service.namespace}/{.spec.service.name}")
			if err != nil {
				return err
			}
			if out != ns+"/metrics-metrics-api" {
				return fmt.Errorf("APIService names the Service %s", out)
			}
			want := "--metric-resolution=15s"
			if upgraded {
				want = "--metric-resolution=30s"
			}
			d, err := c.AppsV1().Deployments(ns).Get(ctx, "metrics-metrics-api", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if args := d.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, want) {
				return fmt.Errorf("deployment runs %v, want %s", args, want)
			}
			return workloadReady(ctx, c, ns, workload{"Deployment", "metrics-metrics-api"}, 1)
		},
	}, {
		chart: "ingress-controller", release: "ingress",
		// Hollow nodes run no service proxy, so ServiceLB gives a
		// LoadBalancer no address (as a cloud without load balancers):
		// helm --wait would wait for one.
		install:   []string{"controller.service.type=NodePort"},
		upgrade:   "controller.replicaCount=2",
		workloads: []workload{{"Deployment", "ingress-ingress-controller"}},
		observe: func(ctx context.Context, c kubernetes.Interface, ns string, upgraded bool) error {
			// The webhook configuration is the release's, calling its
			// Service; the hook Jobs and their RBAC are gone once they
			// succeeded (hook-delete-policy hook-succeeded).
			vwc, err := c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "ingress-ingress-controller-admission", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if svc := vwc.Webhooks[0].ClientConfig.Service; svc == nil || svc.Namespace != ns || svc.Name != "ingress-ingress-controller-admission" {
				return fmt.Errorf("webhook calls %+v", vwc.Webhooks[0].ClientConfig)
			}
			jobs, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			if len(jobs.Items) != 0 {
				return fmt.Errorf("%d hook jobs left", len(jobs.Items))
			}
			if _, err := c.RbacV1().ClusterRoles().Get(ctx, "ingress-ingress-controller-admission", metav1.GetOptions{}); err == nil {
				return errors.New("the hook ClusterRole is left")
			} else if !apierrors.IsNotFound(err) {
				return err
			}
			return replicasChange(workload{"Deployment", "ingress-ingress-controller"}, 1, 2)(ctx, c, ns, upgraded)
		},
	}, {
		chart: "node-exporter", release: "nodes",
		upgrade:   "logLevel=debug",
		workloads: []workload{{"DaemonSet", "nodes-node-exporter"}},
		observe: func(ctx context.Context, c kubernetes.Interface, ns string, upgraded bool) error {
			if err := workloadReady(ctx, c, ns, workload{"DaemonSet", "nodes-node-exporter"}, nodeCount); err != nil {
				return err
			}
			want := "--log.level=info"
			if upgraded {
				want = "--log.level=debug"
			}
			pods := 0
			list, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=nodes"})
			if err != nil {
				return err
			}
			for _, p := range list.Items {
				if p.DeletionTimestamp != nil {
					continue
				}
				pods++
				if !slices.Contains(p.Spec.Containers[0].Args, want) {
					return fmt.Errorf("pod %s runs %v, want %s", p.Name, p.Spec.Containers[0].Args, want)
				}
				if !p.Spec.HostNetwork || p.Spec.Containers[0].Ports[0].HostPort != 9100 {
					return fmt.Errorf("pod %s: hostNetwork %v, ports %v", p.Name, p.Spec.HostNetwork, p.Spec.Containers[0].Ports)
				}
			}
			if int32(pods) != nodeCount {
				return fmt.Errorf("%d pods on %d nodes", pods, nodeCount)
			}
			return nil
		},
	}, {
		chart: "kvstore", release: "kv",
		upgrade:   "replicaCount=3",
		workloads: []workload{{"StatefulSet", "kv-kvstore"}},
		observe: func(ctx context.Context, c kubernetes.Interface, ns string, upgraded bool) error {
			want := int32(2)
			if upgraded {
				want = 3
			}
			if err := workloadReady(ctx, c, ns, workload{"StatefulSet", "kv-kvstore"}, want); err != nil {
				return err
			}
			// Each pod has its bound claim; a scaled-down pod's claim
			// goes with it (whenScaled: Delete).
			claims, err := c.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=kv"})
			if err != nil {
				return err
			}
			var bound []string
			for _, pvc := range claims.Items {
				if pvc.DeletionTimestamp == nil && pvc.Status.Phase == corev1.ClaimBound {
					bound = append(bound, pvc.Name)
				}
			}
			if int32(len(bound)) != want || len(claims.Items) != int(want) {
				return fmt.Errorf("claims bound: %v of %d, want %d", bound, len(claims.Items), want)
			}
			return nil
		},
	}, {
		chart: "monitoring-operator", release: "mon",
		upgrade:   "prometheus.replicas=2",
		workloads: []workload{{"Deployment", "mon-monitoring-operator"}},
		observe: func(ctx context.Context, c kubernetes.Interface, ns string, upgraded bool) error {
			want := "1"
			if upgraded {
				want = "2"
			}
			out, err := kubectlOut(ctx, s, "get", "prometheus", "mon-monitoring-operator", "-n", ns, "-o", "jsonpath={.spec.replicas}/{.spec.retention}")
			if err != nil {
				return err
			}
			if out != want+"/10d" {
				return fmt.Errorf("prometheus spec.replicas/retention %s, want %s/10d", out, want)
			}
			return nil
		},
	}}

	for _, tc := range cases {
		t.Run(tc.chart, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ns := "chart-" + tc.release
			chart := filepath.Join(repoRoot, "test", "charts", tc.chart)
			ready := func(what string, upgraded bool) {
				t.Helper()
				err := poll(200*time.Millisecond, 60*time.Second, func() error {
					for _, w := range tc.workloads {
						if err := workloadReady(ctx, c, ns, w, -1); err != nil {
							return err
						}
					}
					return tc.observe(ctx, c, ns, upgraded)
				})
				if err != nil {
					t.Fatalf("after %s: %v", what, err)
				}
			}
			install := []string{"install", tc.release, chart, "-n", ns, "--create-namespace", "--wait", "--timeout", "90s"}
			for _, v := range tc.install {
				install = append(install, "--set", v)
			}
			helmRun(t, s, install...)
			ready("install", false)

			helmRun(t, s, "upgrade", tc.release, chart, "-n", ns, "--reuse-values", "--set", tc.upgrade, "--wait", "--timeout", "90s")
			ready("upgrade", true)

			helmRun(t, s, "rollback", tc.release, "1", "-n", ns, "--wait", "--timeout", "90s")
			ready("rollback", false)
			if out := helmRun(t, s, "history", tc.release, "-n", ns); !strings.Contains(out, "Rollback to 1") {
				t.Errorf("helm history:\n%s", out)
			}

			helmRun(t, s, "uninstall", tc.release, "-n", ns, "--wait", "--timeout", "90s")
			// Everything the chart made carries its release label: pods
			// and claims go after their owners, so they are waited for.
			// (CRDs from a chart's crds/ are kept by Helm by design and
			// carry no release label; their custom resources do, so they
			// must be gone.)
			var left []string
			err := poll(200*time.Millisecond, 60*time.Second, func() error {
				var err error
				if left, err = leftovers(ctx, s, "app.kubernetes.io/instance="+tc.release); err != nil || len(left) > 0 {
					return fmt.Errorf("left: %v (%v)", left, err)
				}
				// The volumes of the claims go with them (reclaimPolicy Delete).
				pvs, err := c.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
				if err != nil {
					return err
				}
				for _, pv := range pvs.Items {
					if pv.Spec.ClaimRef != nil && pv.Spec.ClaimRef.Namespace == ns {
						return fmt.Errorf("volume %s of claim %s left", pv.Name, pv.Spec.ClaimRef.Name)
					}
				}
				return nil
			})
			if err != nil {
				t.Errorf("after helm uninstall: %v", err)
			}
			if out := helmRun(t, s, "list", "-n", ns, "-q"); strings.TrimSpace(out) != "" {
				t.Errorf("helm list after uninstall: %q", out)
			}
		})
	}
}

// kubectlOut runs kubectl against s and returns its stdout, or an error
// with its stderr.
func kubectlOut(ctx context.Context, s *server, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, kubectlBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}
