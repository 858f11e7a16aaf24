//go:build integration

package apiserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/server/api"
	"skiff.dev/skiff/internal/testserver"
)

// A request the audit policy names is in the audit log at the policy's
// level (Metadata: who did what, not the object); one it does not name is
// not.
func TestAuditLogFollowsPolicy(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	logPath := filepath.Join(dir, "audit.log")
	err := os.WriteFile(policy, []byte(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets"]
- level: None
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s := testserver.Start(t, func(c *api.Config) {
		c.Audit = apiserver.DefaultAudit()
		c.Audit.PolicyFile, c.Audit.LogPath = policy, logPath
	})
	ctx := context.Background()
	const value = "audit-should-not-hold-this"
	_, err = s.Client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "audited"}, StringData: map[string]string{"k": value},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 10*time.Second, "the secret's create in the audit log", func() error {
		b, err := os.ReadFile(logPath)
		if err != nil {
			return err
		}
		var found bool
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev auditv1.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("audit log line %q: %v", sc.Text(), err)
			}
			if ev.ObjectRef == nil || ev.ObjectRef.Resource != "secrets" {
				t.Fatalf("audit log holds a request the policy does not name: %s %s", ev.Verb, ev.RequestURI)
			}
			if ev.Verb == "create" && ev.ObjectRef.Name == "audited" && ev.Stage == auditv1.StageResponseComplete {
				found = true
				if ev.Level != "Metadata" || ev.User.Username != "system:admin" || ev.RequestObject != nil {
					t.Errorf("event: level %s, user %s, request object %v; want Metadata, system:admin, none", ev.Level, ev.User.Username, ev.RequestObject)
				}
			}
		}
		if bytes.Contains(b, []byte(value)) {
			t.Fatal("the audit log holds the Secret's value")
		}
		if !found {
			return errors.New("no ResponseComplete event for the create")
		}
		return nil
	})
}
