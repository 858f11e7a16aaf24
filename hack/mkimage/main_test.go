package main

import (
	"os"
	"strings"
	"testing"
)

func TestAvailableApplets(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox")
	}
	got := strings.Join(availableApplets("/bin/busybox"), " ")
	for _, want := range []string{"sh", "tar", "cat", "ls", "env", "ps", "kill", "sleep", "date", "echo"} {
		if !strings.Contains(" "+got+" ", " "+want+" ") {
			t.Errorf("applets %q lack %s", got, want)
		}
	}
}
