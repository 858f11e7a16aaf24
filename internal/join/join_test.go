package join_test

import (
	"strings"
	"testing"

	"skiff.dev/skiff/internal/join"
)

func TestParseToken(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		in string
		ok bool
	}{
		{"skiff-" + hash + ".s3cret\n", true},
		{"skiff-" + hash, false},
		{"skiff-abc.s3cret", false},
		{hash + ".s3cret", false},
		{"skiff-" + hash + ".", false},
	}
	for _, tt := range tests {
		tok, err := join.ParseToken(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseToken(%q) error %v, want ok=%v", tt.in, err, tt.ok)
		}
		if tt.ok && (tok.CAHash != hash || tok.Secret != "s3cret" || !tok.Matches("s3cret") || tok.Matches("s3cre")) {
			t.Errorf("ParseToken(%q) = %+v", tt.in, tok)
		}
	}
}
