package containerevents

import (
	"testing"
	"time"
)

func TestMessages(t *testing.T) {
	tests := []struct{ got, want string }{
		{Pulling("model:v1"), `Pulling image "model:v1"`},
		{Present("model:v1"), `Container image "model:v1" already present on machine and can be accessed by the pod`},
		{Pulled("model:v1", 0, 0), `Successfully pulled image "model:v1" in 0s (0s including waiting).`},
		{Pulled("model:v1", 1500*time.Millisecond, 2048), `Successfully pulled image "model:v1" in 1.5s (1.5s including waiting). Image size: 2048 bytes.`},
		{Killing("app"), "Stopping container app"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
