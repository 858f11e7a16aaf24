package pki

import (
	"fmt"
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig names the files a kubeconfig points at.
type Kubeconfig struct {
	Server   string // https://host:port
	CAFile   string
	CertFile string
	KeyFile  string
	// Name is the cluster, user and context name.
	Name string
}

// Write writes the kubeconfig to path with the certificates embedded, so the
// file works when copied elsewhere.
func (k Kubeconfig) Write(path string) error {
	ca, err := os.ReadFile(k.CAFile)
	if err != nil {
		return fmt.Errorf("kubeconfig CA: %w", err)
	}
	cert, err := os.ReadFile(k.CertFile)
	if err != nil {
		return fmt.Errorf("kubeconfig certificate: %w", err)
	}
	key, err := os.ReadFile(k.KeyFile)
	if err != nil {
		return fmt.Errorf("kubeconfig key: %w", err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[k.Name] = &clientcmdapi.Cluster{Server: k.Server, CertificateAuthorityData: ca}
	cfg.AuthInfos[k.Name] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[k.Name] = &clientcmdapi.Context{Cluster: k.Name, AuthInfo: k.Name}
	cfg.CurrentContext = k.Name
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return os.Chmod(path, 0o600)
}
