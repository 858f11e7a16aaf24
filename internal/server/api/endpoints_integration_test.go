//go:build integration

package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/testserver"
)

func TestKubernetesServiceEndpoints(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	if !s.EndpointAddress.IsValid() || s.EndpointAddress.IsLoopback() {
		t.Fatalf("endpoint address %v: want a non-loopback address", s.EndpointAddress)
	}
	want := s.EndpointAddress.String()
	check := func() error {
		ep, err := s.Client.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ep.Labels[discoveryv1.LabelSkipMirror] != "true" || len(ep.Subsets) != 1 || ep.Subsets[0].Addresses[0].IP != want ||
			ep.Subsets[0].Ports[0].Port != int32(s.Port) {
			return fmt.Errorf("endpoints %+v", ep)
		}
		sl, err := s.Client.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if sl.Labels[discoveryv1.LabelServiceName] != "kubernetes" || len(sl.Endpoints) != 1 || sl.Endpoints[0].Addresses[0] != want ||
			*sl.Ports[0].Port != int32(s.Port) {
			return fmt.Errorf("slice %+v", sl)
		}
		svc, err := s.Client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if svc.Spec.Ports[0].TargetPort.IntValue() != s.Port {
			return fmt.Errorf("service target port %v, want %d", svc.Spec.Ports[0].TargetPort, s.Port)
		}
		return nil
	}
	testserver.Poll(t, 20*time.Second, "kubernetes service endpoints", check)
	// Deleted: written again.
	if err := s.Client.CoreV1().Endpoints("default").Delete(ctx, "kubernetes", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "kubernetes endpoints rewritten", check)
}
