package serviceaccount

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"k8s.io/client-go/util/keyutil"
)

// SigningKeyPath is where the signing key lives in a data dir unless
// --service-account-signing-key-file says otherwise.
func SigningKeyPath(dataDir string) string {
	return filepath.Join(dataDir, "tls", "service-account.key")
}

// EnsureSigningKey creates an RSA 2048 private key at path (PEM, mode
// 0600, its directory 0700) unless a file is there already.
func EnsureSigningKey(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("service account signing key: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("service account signing key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("service account signing key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: keyutil.RSAPrivateKeyBlockType, Bytes: x509.MarshalPKCS1PrivateKey(key)})
	// Written aside and renamed, so a crash never leaves half a key.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("service account signing key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("service account signing key: %w", err)
	}
	return nil
}

// loadKeys reads the signing key and the public keys that verify tokens:
// the signing key's own and those of keyFiles.
func loadKeys(signingKeyFile string, keyFiles []string) (crypto.Signer, []any, error) {
	priv, err := keyutil.PrivateKeyFromFile(signingKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("service account signing key %s: %w", signingKeyFile, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("service account signing key %s: a %T cannot sign", signingKeyFile, priv)
	}
	public := []any{signer.Public()}
	for _, f := range keyFiles {
		keys, err := keyutil.PublicKeysFromFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("service account key file %s: %w", f, err)
		}
		public = append(public, keys...)
	}
	return signer, public, nil
}
