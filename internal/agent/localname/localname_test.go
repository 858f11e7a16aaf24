package localname

import (
	"strings"
	"testing"
)

func TestFor(t *testing.T) {
	a := For("skiff-", "n1", "/var/a")
	if !strings.HasPrefix(a, "skiff-") || len(a) != len("skiff-")+8 {
		t.Errorf("For = %q, want skiff- and eight hex digits", a)
	}
	if a != For("skiff-", "n1", "/var/a") {
		t.Error("For is not stable")
	}
	for _, other := range []string{For("skiff-", "n1", "/var/b"), For("skiff-", "n2", "/var/a"), For("skiff-", "n1/", "var/a")} {
		if other == a {
			t.Errorf("%q names another agent too", other)
		}
	}
}
