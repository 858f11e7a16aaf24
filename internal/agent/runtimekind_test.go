package agent

import (
	"strings"
	"testing"
)

func TestRuntimeKind(t *testing.T) {
	for _, tt := range []struct {
		in      string
		wantErr bool
	}{
		{"auto", false}, {"cri", false}, {"process", false}, {"fake", false},
		{"", true}, {"docker", true}, {"Process", true},
	} {
		var k RuntimeKind
		err := k.Set(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("Set(%q): error %v, want error %v", tt.in, err, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "want auto, cri, process or fake") {
			t.Errorf("Set(%q): error %q does not list the kinds", tt.in, err)
		}
		if err == nil && k.String() != tt.in {
			t.Errorf("Set(%q): kind %q", tt.in, k)
		}
	}
}
