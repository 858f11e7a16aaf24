package join

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"skiff.dev/skiff/internal/pki"
)

// ErrTokenRefused is returned when the server does not accept the token.
var ErrTokenRefused = errors.New("the server refused the join token")

// KubeconfigPath is where an agent keeps its own kubeconfig.
func KubeconfigPath(dataDir string) string { return filepath.Join(dataDir, "kubeconfig.yaml") }

// Credentials returns the path of a kubeconfig for node nodeName, obtaining
// a certificate from server with token the first time.
func Credentials(ctx context.Context, server, token, nodeName, dataDir string) (string, error) {
	kubeconfig := KubeconfigPath(dataDir)
	tlsDir := filepath.Join(dataDir, "tls")
	certFile, keyFile, caFile := filepath.Join(tlsDir, "node.crt"), filepath.Join(tlsDir, "node.key"), filepath.Join(tlsDir, "ca.crt")
	if certs, err := certutil.CertsFromFile(certFile); err == nil && certs[0].Subject.CommonName == "system:node:"+nodeName &&
		time.Until(certs[0].NotAfter) > 24*time.Hour {
		if _, err := os.Stat(kubeconfig); err == nil {
			return kubeconfig, nil
		}
	}
	t, err := ParseToken(token)
	if err != nil {
		return "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"}},
	}, key)
	if err != nil {
		return "", fmt.Errorf("certificate request: %w", err)
	}
	body, _ := json.Marshal(Request{NodeName: nodeName, CSR: string(pemBlock(certutil.CertificateRequestBlockType, csrDER))})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(server, "/")+Path, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+t.Secret)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: pinnedTLS(t.CAHash)}}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("join %s: %w", server, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", fmt.Errorf("join %s: %w (HTTP %d)", server, ErrTokenRefused, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("join %s: HTTP %d: %s", server, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	var out Response
	if err := json.Unmarshal(msg, &out); err != nil {
		return "", fmt.Errorf("join %s: %w", server, err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		return "", err
	}
	if err := keyutil.WriteKey(keyFile, keyPEM); err != nil {
		return "", err
	}
	if err := certutil.WriteCert(certFile, []byte(out.Certificate)); err != nil {
		return "", err
	}
	if err := certutil.WriteCert(caFile, []byte(out.CA)); err != nil {
		return "", err
	}
	err = pki.Kubeconfig{Server: server, CAFile: caFile, CertFile: certFile, KeyFile: keyFile, Name: "skiff"}.Write(kubeconfig)
	return kubeconfig, err
}

// pinnedTLS trusts a server whose certificate chain includes the CA whose
// SHA-256 is caHash and whose leaf that CA signed.
func pinnedTLS(caHash string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by VerifyConnection's pinning
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			for _, c := range cs.PeerCertificates[1:] {
				sum := sha256.Sum256(c.Raw)
				if hex.EncodeToString(sum[:]) != caHash {
					continue
				}
				pool := x509.NewCertPool()
				pool.AddCert(c)
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
				return err
			}
			return errors.New("the server's certificate chain does not hold the CA named in the join token")
		},
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
