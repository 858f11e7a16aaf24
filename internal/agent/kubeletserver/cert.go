package kubeletserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

const (
	certValidity = 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
)

// servingCert loads dir/kubelet.crt and dir/kubelet.key, making a new
// self-signed pair when they are missing, expire within renewBefore or do
// not name every host.
func servingCert(dir string, hosts []string) (tls.Certificate, error) {
	certFile, keyFile := filepath.Join(dir, "kubelet.crt"), filepath.Join(dir, "kubelet.key")
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && len(pair.Certificate) > 0 {
		if cert, err := x509.ParseCertificate(pair.Certificate[0]); err == nil && certCovers(cert, hosts) {
			return pair, nil
		}
	}
	certPEM, keyPEM, err := selfSigned(hosts)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("serving certificate dir: %w", err)
	}
	if err := keyutil.WriteKey(keyFile, keyPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("write %s: %w", keyFile, err)
	}
	if err := certutil.WriteCert(certFile, certPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("write %s: %w", certFile, err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// SelfSignedCert makes a self-signed serving certificate for hosts, in
// memory (the hollow nodes' kubelet servers share one).
func SelfSignedCert(hosts []string) (tls.Certificate, error) {
	certPEM, keyPEM, err := selfSigned(hosts)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// selfSigned makes a self-signed serving certificate for hosts and its key,
// PEM-encoded.
func selfSigned(hosts []string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate serving key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName(hosts)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("self-sign serving certificate: %w", err)
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode serving key: %w", err)
	}
	certPEM, err = certutil.EncodeCertificates(&x509.Certificate{Raw: der})
	if err != nil {
		return nil, nil, fmt.Errorf("encode serving certificate: %w", err)
	}
	return certPEM, keyPEM, nil
}

func certCovers(cert *x509.Certificate, hosts []string) bool {
	if time.Until(cert.NotAfter) < renewBefore {
		return false
	}
	for _, h := range hosts {
		if h != "" && cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func commonName(hosts []string) string {
	for _, h := range hosts {
		if h != "" && net.ParseIP(h) == nil {
			return h + "@kubelet"
		}
	}
	if len(hosts) > 0 {
		return hosts[0] + "@kubelet"
	}
	return "skiff-kubelet"
}
