//go:build integration

package testserver

import (
	"context"
	"fmt"
	"testing"
	"time"

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

// Poll returns once check passes, after calling it again while it fails.
func TestPoll(t *testing.T) {
	calls := 0
	Poll(t, 5*time.Second, "third call", func() error {
		calls++
		if calls < 3 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	if calls != 3 {
		t.Errorf("check called %d times, want 3", calls)
	}
}
