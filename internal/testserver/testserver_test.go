package testserver

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Two servers one after the other in one process: components' integration
// tests start one per test.
func TestStartTwice(t *testing.T) {
	for i := 0; i < 2; i++ {
		t.Run("server", func(t *testing.T) {
			s := Start(t, nil)
			ns, err := s.Client.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if ns.Status.Phase != "Active" {
				t.Errorf("default namespace phase %q", ns.Status.Phase)
			}
		})
	}
}
