package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckStatic(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "script")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	tests := []struct {
		name    string
		file    string
		wantErr string
	}{
		{name: "static busybox", file: "/bin/busybox"},
		{name: "dynamic binary", file: "/bin/ls", wantErr: "dynamically linked; images need static binaries (build it with CGO_ENABLED=0)"},
		{name: "not an executable", file: notELF, wantErr: "not an ELF executable"},
		{name: "missing", file: filepath.Join(dir, "nope"), wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.file); err != nil && tt.wantErr == "" {
				t.Skipf("%s is not installed", tt.file)
			}
			err := CheckStatic(tt.file)
			if tt.wantErr == "" && err != nil {
				t.Errorf("CheckStatic(%s) = %v, want nil", tt.file, err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("CheckStatic(%s) = %v, want an error with %q", tt.file, err, tt.wantErr)
			}
		})
	}
}
