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

// ServingCertPaths are the kubelet server's certificate and key, signed by
// the cluster CA at join, in an agent's data dir.
func ServingCertPaths(dataDir string) (certFile, keyFile string) {
	tlsDir := filepath.Join(dataDir, "tls")
	return filepath.Join(tlsDir, "kubelet-serving.crt"), filepath.Join(tlsDir, "kubelet-serving.key")
}

// Credentials returns the path of a kubeconfig for node nodeName, obtaining
// a certificate from server with token the first time. With servingHosts it
// obtains as well the kubelet server's certificate for them
// (ServingCertPaths), again when they change.
func Credentials(ctx context.Context, server, token, nodeName, dataDir string, servingHosts []string) (string, error) {
	kubeconfig := KubeconfigPath(dataDir)
	tlsDir := filepath.Join(dataDir, "tls")
	certFile, keyFile, caFile := filepath.Join(tlsDir, "node.crt"), filepath.Join(tlsDir, "node.key"), filepath.Join(tlsDir, "ca.crt")
	servingCert, servingKey := ServingCertPaths(dataDir)
	if certs, err := certutil.CertsFromFile(certFile); err == nil && certs[0].Subject.CommonName == "system:node:"+nodeName &&
		time.Until(certs[0].NotAfter) > 24*time.Hour && servingCovers(servingCert, caFile, servingHosts) {
		if _, err := os.Stat(kubeconfig); err == nil {
			return kubeconfig, nil
		}
	}
	t, err := ParseToken(token)
	if err != nil {
		return "", err
	}
	key, csr, err := newCSR(nodeName)
	if err != nil {
		return "", err
	}
	ask := Request{NodeName: nodeName, CSR: csr}
	var servingKeyPEM []byte
	if len(servingHosts) > 0 {
		var sk *ecdsa.PrivateKey
		if sk, ask.ServingCSR, err = newCSR(nodeName); err != nil {
			return "", err
		}
		ask.ServingHosts = servingHosts
		if servingKeyPEM, err = keyutil.MarshalPrivateKeyToPEM(sk); err != nil {
			return "", err
		}
	}
	body, _ := json.Marshal(ask)
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
	if servingKeyPEM != nil {
		if out.ServingCertificate == "" {
			return "", fmt.Errorf("join %s: the server signed no kubelet serving certificate", server)
		}
		if err := keyutil.WriteKey(servingKey, servingKeyPEM); err != nil {
			return "", err
		}
		if err := certutil.WriteCert(servingCert, []byte(out.ServingCertificate)); err != nil {
			return "", err
		}
	}
	err = pki.Kubeconfig{Server: server, CAFile: caFile, CertFile: certFile, KeyFile: keyFile, Name: "skiff"}.Write(kubeconfig)
	return kubeconfig, err
}

// newCSR makes a key and a PEM certificate request of node nodeName for it.
func newCSR(nodeName string) (*ecdsa.PrivateKey, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"}},
	}, key)
	if err != nil {
		return nil, "", fmt.Errorf("certificate request: %w", err)
	}
	return key, string(pemBlock(certutil.CertificateRequestBlockType, der)), nil
}

// servingCovers reports whether no serving certificate is wanted (no
// hosts), or the one in certFile is signed by the CA in caFile, valid for
// more than a day and names every host.
func servingCovers(certFile, caFile string, hosts []string) bool {
	if len(hosts) == 0 {
		return true
	}
	certs, err := certutil.CertsFromFile(certFile)
	if err != nil {
		return false
	}
	cas, err := certutil.CertsFromFile(caFile)
	if err != nil {
		return false
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	if time.Until(certs[0].NotAfter) < 24*time.Hour {
		return false
	}
	for _, h := range hosts {
		if _, err := certs[0].Verify(x509.VerifyOptions{DNSName: h, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return false
		}
	}
	return true
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
