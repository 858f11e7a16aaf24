package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"skiff.dev/skiff/internal/pki"
)

// DefaultUserValidity is how long a user's certificate from `skiff
// kubeconfig --user` is valid (kubeadm's kubeconfig user default).
const DefaultUserValidity = 365 * 24 * time.Hour

// UserKubeconfig is `skiff kubeconfig --user`: a kubeconfig for a new user
// with a client certificate of the cluster CA.
type UserKubeconfig struct {
	// DataDir is the server's data dir, which holds the CA and the admin
	// kubeconfig (whose server URL the user's gets).
	DataDir string
	// User and Groups are the certificate's CommonName and Organizations:
	// the user's name and groups as the API server authenticates them.
	User   string
	Groups []string
	// Validity defaults to DefaultUserValidity.
	Validity time.Duration
	// Out receives the kubeconfig.
	Out io.Writer
}

// WriteUserKubeconfig signs a client certificate for a new key of cfg.User
// with the cluster CA and writes a kubeconfig that uses it, certificate and
// key embedded.
func WriteUserKubeconfig(cfg UserKubeconfig) error {
	if cfg.User == "" {
		return errors.New("--user is required")
	}
	tlsDir := filepath.Join(cfg.DataDir, "tls")
	if _, err := os.Stat(filepath.Join(tlsDir, "ca.key")); err != nil {
		return fmt.Errorf("no cluster CA in %s (run this on the server's machine with its --data-dir): %w", tlsDir, err)
	}
	ca, err := pki.LoadOrCreateCA(tlsDir)
	if err != nil {
		return err
	}
	admin, err := clientcmd.LoadFromFile(KubeconfigPath(cfg.DataDir))
	if err != nil {
		return fmt.Errorf("admin kubeconfig: %w", err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	if cluster == nil {
		return fmt.Errorf("admin kubeconfig %s: no cluster in its current context", KubeconfigPath(cfg.DataDir))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	validity := cfg.Validity
	if validity <= 0 {
		validity = DefaultUserValidity
	}
	cert, err := ca.Sign(key.Public(), pki.Leaf{CommonName: cfg.User, Organization: cfg.Groups, Validity: validity})
	if err != nil {
		return err
	}
	certPEM, err := certutil.EncodeCertificates(cert)
	if err != nil {
		return err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return err
	}
	caPEM, err := certutil.EncodeCertificates(ca.Cert)
	if err != nil {
		return err
	}
	const clusterName = "skiff"
	ctxName := cfg.User + "@" + clusterName
	out := clientcmdapi.NewConfig()
	out.Clusters[clusterName] = &clientcmdapi.Cluster{Server: cluster.Server, CertificateAuthorityData: caPEM}
	out.AuthInfos[cfg.User] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	out.Contexts[ctxName] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: cfg.User}
	out.CurrentContext = ctxName
	b, err := clientcmd.Write(*out)
	if err != nil {
		return fmt.Errorf("kubeconfig for %s: %w", cfg.User, err)
	}
	_, err = cfg.Out.Write(b)
	return err
}
