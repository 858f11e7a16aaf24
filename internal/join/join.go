// Package join lets a machine join the cluster as a node: `skiff server`
// writes a join token (the CA's hash and a secret) to its data dir; `skiff
// agent` presents it once to obtain a client certificate of its own
// (CN system:node:NAME, O system:nodes) and from then on uses that.
package join

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Path is the credentials endpoint on the API server.
const Path = "/skiff/v1/node-credentials"

// Bootstrap identities: the user a join token authenticates as, and its
// group, which may reach Path and nothing else.
const (
	BootstrapUser  = "system:bootstrap:skiff-agent"
	BootstrapGroup = "system:bootstrappers"
)

// Token is a parsed join token: "skiff-<CA sha256 hex>.<secret>".
type Token struct {
	CAHash string
	Secret string
}

func (t Token) String() string { return "skiff-" + t.CAHash + "." + t.Secret }

// ParseToken reads the token format.
func ParseToken(s string) (Token, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "skiff-")
	hash, secret, found := strings.Cut(rest, ".")
	if !ok || !found || len(hash) != 64 || secret == "" {
		return Token{}, errors.New(`join token: want "skiff-<CA hash>.<secret>" as written to the server's <data-dir>/token`)
	}
	return Token{CAHash: hash, Secret: secret}, nil
}

// Matches reports whether secret is this token's secret, in constant time.
func (t Token) Matches(secret string) bool {
	return subtle.ConstantTimeCompare([]byte(t.Secret), []byte(secret)) == 1
}

// TokenPath is where the server keeps its join token.
func TokenPath(dataDir string) string { return filepath.Join(dataDir, "token") }

// LoadOrCreateToken reads the server's join token, creating it on first
// start; caHash must be the current CA's.
func LoadOrCreateToken(dataDir, caHash string) (Token, error) {
	path := TokenPath(dataDir)
	if b, err := os.ReadFile(path); err == nil {
		t, err := ParseToken(string(b))
		if err != nil {
			return Token{}, fmt.Errorf("%s: %w", path, err)
		}
		if t.CAHash == caHash {
			return t, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return Token{}, fmt.Errorf("read join token: %w", err)
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return Token{}, err
	}
	t := Token{CAHash: caHash, Secret: hex.EncodeToString(secret)}
	if err := os.WriteFile(path, []byte(t.String()+"\n"), 0o600); err != nil {
		return Token{}, fmt.Errorf("write join token: %w", err)
	}
	return t, nil
}
