//go:build integration

package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/testserver"
)

// API Priority and Fairness is on: the bootstrap FlowSchemas and priority
// levels are stored at start, and every request is classified by one (the
// X-Kubernetes-PF-* response headers name it).
func TestPriorityAndFairness(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	testserver.Poll(t, 30*time.Second, "the bootstrap FlowSchemas", func() error {
		for _, name := range []string{"exempt", "probes", "system-nodes", "kube-controller-manager", "service-accounts", "global-default", "catch-all"} {
			if _, err := s.Client.FlowcontrolV1().FlowSchemas().Get(ctx, name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		for _, name := range []string{"exempt", "system", "node-high", "workload-low", "global-default", "catch-all"} {
			if _, err := s.Client.FlowcontrolV1().PriorityLevelConfigurations().Get(ctx, name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		return nil
	})

	transport, err := rest.TransportFor(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "a request classified by a FlowSchema", func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Config.Host+"/api/v1/namespaces", nil)
		resp, err := transport.RoundTrip(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.Header.Get(flowcontrolv1.ResponseHeaderMatchedFlowSchemaUID) == "" {
			return fmt.Errorf("no %s header in %v", flowcontrolv1.ResponseHeaderMatchedFlowSchemaUID, resp.Header)
		}
		return nil
	})

	// A FlowSchema naming an unknown priority level is stored with a
	// Dangling condition, as Kubernetes does; a bad one is refused.
	_, err = s.Client.FlowcontrolV1().FlowSchemas().Create(ctx, &flowcontrolv1.FlowSchema{
		ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: flowcontrolv1.FlowSchemaSpec{
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "workload-low"},
			MatchingPrecedence:         20000,
		},
	}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.matchingPrecedence") {
		t.Fatalf("FlowSchema with matchingPrecedence 20000: got %v, want 422 naming spec.matchingPrecedence", err)
	}
}

// RuntimeClass is served with Kubernetes' validation: a handler must be a
// DNS label, and it cannot change.
func TestRuntimeClass(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	rc := s.Client.NodeV1().RuntimeClasses()
	_, err := rc.Create(ctx, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "gvisor"}, Handler: "Not_A_Label"}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "handler") {
		t.Fatalf("bad handler: got %v, want 422 naming handler", err)
	}
	created, err := rc.Create(ctx, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "gvisor"}, Handler: "runsc"}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Handler != "runsc" {
		t.Errorf("handler %q, want runsc", created.Handler)
	}
	created.Handler = "kata"
	if _, err := rc.Update(ctx, created, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "handler") {
		t.Fatalf("changing the handler: got %v, want 422 naming handler", err)
	}
	list, err := rc.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "gvisor" {
		t.Fatalf("list: %v, %+v", err, list)
	}
}
