// Package pki makes and keeps the certificates of a skiff cluster: the
// cluster CA, the API server's serving certificate and client certificates
// (the admin's, the agents'), and writes kubeconfig files that use them.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// CA is the cluster's certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// CertFile is the PEM file of Cert.
	CertFile string
}

const validity = 10 * 365 * 24 * time.Hour

// LoadOrCreateCA reads ca.crt and ca.key from dir, creating them on first use.
func LoadOrCreateCA(dir string) (*CA, error) {
	return LoadOrCreateNamedCA(dir, "ca", "skiff-ca")
}

// LoadOrCreateNamedCA reads name.crt and name.key from dir, creating them on
// first use as a self-signed CA called commonName (a second CA beside the
// cluster's: the front proxy's).
func LoadOrCreateNamedCA(dir, name, commonName string) (*CA, error) {
	certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if exists(certFile) && exists(keyFile) {
		certs, err := certutil.CertsFromFile(certFile)
		if err != nil {
			return nil, fmt.Errorf("read CA certificate: %w", err)
		}
		key, err := keyutil.PrivateKeyFromFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("read CA key: %w", err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, errors.New("CA key cannot sign")
		}
		return &CA{Cert: certs[0], Key: signer, CertFile: certFile}, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	cert, err := certutil.NewSelfSignedCACert(certutil.Config{CommonName: commonName}, key)
	if err != nil {
		return nil, fmt.Errorf("self-sign CA: %w", err)
	}
	if err := writeCertKey(certFile, keyFile, cert, key); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertFile: certFile}, nil
}

// Leaf describes a certificate to sign with the CA.
type Leaf struct {
	CommonName   string
	Organization []string
	// DNSNames and IPs make a serving certificate; without them the
	// certificate is for clients only.
	DNSNames []string
	IPs      []net.IP
	// ServerOnly makes a serving certificate that is not also a client
	// certificate (a kubelet's).
	ServerOnly bool
	// Validity is how long the certificate is valid from now; zero means
	// ten years.
	Validity time.Duration
}

// Hosts splits host names and IP addresses into a Leaf's DNSNames and IPs.
func Hosts(hosts []string) (dnsNames []string, ips []net.IP) {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else if h != "" {
			dnsNames = append(dnsNames, h)
		}
	}
	return dnsNames, ips
}

// TLSCertificate signs leaf for a new key and returns the pair, in memory.
func (ca *CA) TLSCertificate(leaf Leaf) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate key for %s: %w", leaf.CommonName, err)
	}
	cert, err := ca.Sign(key.Public(), leaf)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw, ca.Cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

// EnsureLeaf returns the paths of a certificate and key signed by the CA,
// creating them when missing or when the existing certificate does not cover
// the requested names.
func (ca *CA) EnsureLeaf(certFile, keyFile string, leaf Leaf) error {
	if exists(certFile) && exists(keyFile) {
		if certs, err := certutil.CertsFromFile(certFile); err == nil && covers(certs[0], leaf) && certs[0].CheckSignatureFrom(ca.Cert) == nil {
			return nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key for %s: %w", leaf.CommonName, err)
	}
	cert, err := ca.Sign(key.Public(), leaf)
	if err != nil {
		return err
	}
	return writeCertKey(certFile, keyFile, cert, key)
}

// Sign issues a certificate for pub as leaf describes.
func (ca *CA) Sign(pub crypto.PublicKey, leaf Leaf) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	valid := leaf.Validity
	if valid <= 0 {
		valid = validity
	}
	notAfter := now.Add(valid)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: leaf.CommonName, Organization: leaf.Organization},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:     leaf.DNSNames,
		IPAddresses:  leaf.IPs,
	}
	switch {
	case leaf.ServerOnly:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case len(leaf.DNSNames)+len(leaf.IPs) > 0:
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate for %s: %w", leaf.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// Hash is the SHA-256 of the CA certificate, hex-encoded: join tokens carry
// it so that an agent can trust the server before it has the CA.
func (ca *CA) Hash() string {
	sum := sha256.Sum256(ca.Cert.Raw)
	return hex.EncodeToString(sum[:])
}

func covers(cert *x509.Certificate, leaf Leaf) bool {
	if cert.Subject.CommonName != leaf.CommonName || !slices.Equal(cert.Subject.Organization, leaf.Organization) ||
		time.Until(cert.NotAfter) < 30*24*time.Hour {
		return false
	}
	for _, name := range leaf.DNSNames {
		if cert.VerifyHostname(name) != nil {
			return false
		}
	}
	for _, ip := range leaf.IPs {
		if cert.VerifyHostname(ip.String()) != nil {
			return false
		}
	}
	return true
}

func writeCertKey(certFile, keyFile string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return fmt.Errorf("pki dir: %w", err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	if err := keyutil.WriteKey(keyFile, keyPEM); err != nil {
		return fmt.Errorf("write %s: %w", keyFile, err)
	}
	certPEM, err := certutil.EncodeCertificates(cert)
	if err != nil {
		return fmt.Errorf("encode certificate: %w", err)
	}
	if err := certutil.WriteCert(certFile, certPEM); err != nil {
		return fmt.Errorf("write %s: %w", certFile, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
