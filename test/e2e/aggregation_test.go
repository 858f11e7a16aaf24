package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Issue 13's API aggregation, with the upstream kubectl: the built-in
// groups have local APIServices; an aggregated API served by a pod behind
// a Service, named by an APIService, becomes Available, shows in
// discovery and kubectl api-resources, and its requests reach the pod with
// the user and the front proxy's client certificate.

// aggregatedAPIManifests are the aggregated server's Deployment and Service
// in namespace wardle and its APIService (insecureSkipTLSVerify, as
// metrics-server's chart sets it).
func aggregatedAPIManifests(bin string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: wardle
spec:
  replicas: 1
  selector:
    matchLabels: {app: wardle-api}
  template:
    metadata:
      labels: {app: wardle-api}
    spec:
      containers:
      - name: api
        image: localhost/skiff/aggregated-api:latest
        command: [%q]
        ports:
        - containerPort: 8443
        readinessProbe:
          httpGet: {path: /healthz, port: 8443, scheme: HTTPS}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: wardle
spec:
  selector: {app: wardle-api}
  ports:
  - {name: https, port: 443, targetPort: 8443}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1alpha1.wardle.skiff.dev
spec:
  group: wardle.skiff.dev
  version: v1alpha1
  service: {namespace: wardle, name: api, port: 443}
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 1000
  versionPriority: 15
`, bin)
}

func TestAPIAggregation(t *testing.T) {
	n := startNodeSuite(t, "process", "--cluster-cidr", "10.184.0.0/16", "--service-cidr", "10.185.0.0/16")
	s := n.s
	bin := staticBin(t, "AGGREGATED_API_BIN", "./cmd/aggregated-api")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pods:\n%s", s.kubectl("", nil, "get", "pods", "-A", "-o", "wide").Stdout)
			t.Logf("apiservices:\n%s", s.kubectl("", nil, "get", "apiservices").Stdout)
		}
	})

	t.Run("built-in groups are local APIServices", func(t *testing.T) {
		eventually(t, 30*time.Second, "local APIServices available", func() bool {
			out := s.ok("get", "apiservices")
			for _, name := range []string{"v1.", "v1.apps", "v1.apiextensions.k8s.io", "v1beta1.metrics.k8s.io", "v1beta2.custom.metrics.k8s.io"} {
				if !hasRow(out, name, "Local", "True") {
					return false
				}
			}
			return strings.HasPrefix(out, "NAME ") && strings.Contains(out, "SERVICE") && strings.Contains(out, "AVAILABLE")
		})
	})

	t.Run("an aggregated API served by a pod", func(t *testing.T) {
		s.ok("create", "namespace", "wardle")
		if r := s.kubectl(aggregatedAPIManifests(bin), nil, "apply", "-f", "-"); r.Code != 0 {
			t.Fatalf("kubectl apply: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		s.ok("wait", "-n", "wardle", "--for=condition=Available", "deployment/api", "--timeout=60s")
		s.ok("wait", "--for=condition=Available", "apiservice/v1alpha1.wardle.skiff.dev", "--timeout=30s")
		if out := s.ok("get", "apiservice", "v1alpha1.wardle.skiff.dev"); !hasRow(out, "v1alpha1.wardle.skiff.dev", "wardle/api", "True") {
			t.Errorf("kubectl get apiservice:\n%s", out)
		}
		raw := s.ok("get", "--raw", "/apis/wardle.skiff.dev/v1alpha1")
		if !strings.Contains(raw, `"name":"flunders"`) {
			t.Errorf("kubectl get --raw: %s", raw)
		}
		eventually(t, 30*time.Second, "kubectl api-resources lists flunders", func() bool {
			return hasRow(s.ok("api-resources", "--api-group=wardle.skiff.dev"), "flunders", "wardle.skiff.dev/v1alpha1", "true", "Flunder")
		})
		// The request reaches the pod for the user, through the front proxy.
		out := s.ok("get", "flunders", "-n", "default", "-o",
			`jsonpath={.items[0].metadata.name} {.items[0].metadata.annotations.aggregated-api\.skiff\.dev/proxy-client}`)
		if out != "for-system-admin front-proxy-client" {
			t.Errorf("kubectl get flunders: %q, want the user system:admin and the client front-proxy-client", out)
		}
	})

	t.Run("unavailable once the pod is gone", func(t *testing.T) {
		s.ok("delete", "deployment", "api", "-n", "wardle", "--wait")
		eventually(t, 30*time.Second, "the APIService unavailable", func() bool {
			out := s.ok("get", "apiservice", "v1alpha1.wardle.skiff.dev")
			return hasRow(out, "v1alpha1.wardle.skiff.dev", "wardle/api", "False")
		})
	})
}

// hasRow reports whether a line of kubectl's table output holds every
// field, in order.
func hasRow(table string, fields ...string) bool {
	for _, line := range strings.Split(table, "\n") {
		cols := strings.Fields(line)
		i := 0
		for _, c := range cols {
			if i < len(fields) && c == fields[i] {
				i++
			}
		}
		if i == len(fields) && len(cols) > 0 && cols[0] == fields[0] {
			return true
		}
	}
	return false
}
