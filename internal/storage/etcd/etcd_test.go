package etcd

import "testing"

// The ports picked on first start are saved and kept: only a first start's
// picks may be picked again when taken.
func TestURLsFreshOnlyOnFirstStart(t *testing.T) {
	cfg := Config{DataDir: t.TempDir()}
	c1, p1, fresh, err := urls(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !fresh || c1.Port() == "0" || p1.Port() == "0" {
		t.Fatalf("first start: client %s peer %s fresh %v, want picked ports and fresh", c1, p1, fresh)
	}
	c2, p2, fresh, err := urls(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fresh || c2.String() != c1.String() || p2.String() != p1.String() {
		t.Fatalf("restart: client %s peer %s fresh %v, want the saved %s %s and not fresh", c2, p2, fresh, c1, p1)
	}
}
