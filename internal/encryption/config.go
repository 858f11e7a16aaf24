package encryption

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"
)

// The configuration's kind and version.
const (
	APIVersion = "apiserver.config.k8s.io/v1"
	Kind       = "EncryptionConfiguration"
)

// Provider names as the configuration spells them.
const (
	AESCBC    = "aescbc"
	AESGCM    = "aesgcm"
	Secretbox = "secretbox"
	Identity  = "identity"
	KMS       = "kms"
)

// storedPrefix is the prefix of every value k8s.io/apiserver encrypts.
const storedPrefix = "k8s:enc:"

// ConfigPath is where `skiff server` keeps its generated configuration in
// a data dir.
func ConfigPath(dataDir string) string { return filepath.Join(dataDir, "encryption-config.yaml") }

// DefaultResources are the resources the generated configuration encrypts.
var DefaultResources = []string{"secrets"}

// Ensure writes the default configuration at path (mode 0600) unless a
// file is there: Secrets under a new random aescbc key, objects stored
// before encryption was on still readable (identity last). created
// reports that it wrote one.
func Ensure(path string, random io.Reader, now time.Time) (created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("encryption config: %w", err)
	}
	key, err := NewKey(random, AESCBC, now)
	if err != nil {
		return false, err
	}
	return true, Write(path, Default(key))
}

// Default is the generated configuration around key.
func Default(key apiserverv1.Key) *apiserverv1.EncryptionConfiguration {
	cfg := &apiserverv1.EncryptionConfiguration{Resources: []apiserverv1.ResourceConfiguration{{
		Resources: append([]string(nil), DefaultResources...),
		Providers: []apiserverv1.ProviderConfiguration{
			{AESCBC: &apiserverv1.AESConfiguration{Keys: []apiserverv1.Key{key}}},
			{Identity: &apiserverv1.IdentityConfiguration{}},
		},
	}}}
	cfg.APIVersion, cfg.Kind = APIVersion, Kind
	return cfg
}

// NewKey is a random 32-byte key (good for aescbc, aesgcm and secretbox)
// named after its provider and now, e.g. aescbckey-20261207T143000Z
// (unique per second; no ':', which separates the stored prefix's parts).
func NewKey(random io.Reader, provider string, now time.Time) (apiserverv1.Key, error) {
	secret := make([]byte, 32)
	if _, err := io.ReadFull(random, secret); err != nil {
		return apiserverv1.Key{}, fmt.Errorf("encryption key: %w", err)
	}
	return apiserverv1.Key{
		Name:   provider + "key-" + now.UTC().Format("20060102T150405Z"),
		Secret: base64.StdEncoding.EncodeToString(secret),
	}, nil
}

// Read reads and decodes the configuration at path (the API server
// validates it when it loads it).
func Read(path string) (*apiserverv1.EncryptionConfiguration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption config: %w", err)
	}
	var cfg apiserverv1.EncryptionConfiguration
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return nil, fmt.Errorf("encryption config %s: %w", path, err)
	}
	if cfg.APIVersion != APIVersion || cfg.Kind != Kind {
		return nil, fmt.Errorf("encryption config %s: want apiVersion %s, kind %s; got %q, %q", path, APIVersion, Kind, cfg.APIVersion, cfg.Kind)
	}
	return &cfg, nil
}

// Write replaces the file at path with cfg in one rename, mode 0600, so
// that the API server never reads half a file.
func Write(path string, cfg *apiserverv1.EncryptionConfiguration) error {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encryption config: %w", err)
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("encryption config: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".encryption-config-*")
	if err != nil {
		return fmt.Errorf("encryption config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("encryption config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("encryption config: %w", err)
	}
	// CreateTemp makes the file 0600.
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("encryption config: %w", err)
	}
	return nil
}

// keys is the key list of a provider that holds keys (aescbc, aesgcm,
// secretbox) and its name; nil for identity and KMS.
func keys(p *apiserverv1.ProviderConfiguration) (*[]apiserverv1.Key, string) {
	switch {
	case p.AESCBC != nil:
		return &p.AESCBC.Keys, AESCBC
	case p.AESGCM != nil:
		return &p.AESGCM.Keys, AESGCM
	case p.Secretbox != nil:
		return &p.Secretbox.Keys, Secretbox
	}
	return nil, ""
}

// providerName names a provider as the configuration does.
func providerName(p apiserverv1.ProviderConfiguration) string {
	if _, name := keys(&p); name != "" {
		return name
	}
	if p.KMS != nil {
		return KMS
	}
	return Identity
}

// Active is what a resource entry writes with: its first provider and, for
// a provider with keys, the first key; prefix is how values it writes
// begin in etcd (empty for identity, which writes them as they are).
func Active(rc apiserverv1.ResourceConfiguration) (provider, key, prefix string) {
	if len(rc.Providers) == 0 {
		return Identity, "", ""
	}
	p := rc.Providers[0]
	provider = providerName(p)
	switch {
	case provider == KMS:
		version := p.KMS.APIVersion
		if version == "" {
			version = "v1"
		}
		return provider, p.KMS.Name, storedPrefix + KMS + ":" + version + ":" + p.KMS.Name + ":"
	case provider == Identity:
		return provider, "", ""
	}
	ks, _ := keys(&p)
	if len(*ks) == 0 {
		return provider, "", ""
	}
	key = (*ks)[0].Name
	return provider, key, storedPrefix + provider + ":v1:" + key + ":"
}

// StoredUnder names what a value read from etcd is stored under:
// "aescbc:v1:KEY" and the like for an encrypted value, "identity" for one
// stored as it is.
func StoredUnder(value []byte) string {
	rest, ok := bytes.CutPrefix(value, []byte(storedPrefix))
	if !ok {
		return Identity
	}
	// provider:version:key:ciphertext
	parts := strings.SplitN(string(rest[:min(len(rest), 512)]), ":", 4)
	if len(parts) < 4 {
		return "unknown"
	}
	return strings.Join(parts[:3], ":")
}

// WithNewKey is cfg with key first in the first provider of every resource
// entry whose first provider holds keys: the server writes with it and
// still reads with the keys after it. An entry whose first provider is
// identity or KMS cannot rotate this way.
func WithNewKey(cfg *apiserverv1.EncryptionConfiguration, key apiserverv1.Key) (*apiserverv1.EncryptionConfiguration, error) {
	out := cfg.DeepCopy()
	for i := range out.Resources {
		rc := &out.Resources[i]
		if len(rc.Providers) == 0 {
			continue
		}
		ks, _ := keys(&rc.Providers[0])
		if ks == nil {
			return nil, fmt.Errorf("resources[%d].providers[0]: %s has no keys to rotate (skiff secrets-encrypt rotates aescbc, aesgcm and secretbox keys)", i, providerName(rc.Providers[0]))
		}
		for _, k := range *ks {
			if k.Name == key.Name {
				return nil, fmt.Errorf("resources[%d].providers[0]: a key named %s is already there", i, key.Name)
			}
		}
		*ks = append([]apiserverv1.Key{key}, *ks...)
	}
	return out, nil
}

// Retire is cfg with the first provider of every entry holding its first
// key only: what the keys after it encrypted must have been rewritten.
func Retire(cfg *apiserverv1.EncryptionConfiguration) *apiserverv1.EncryptionConfiguration {
	out := cfg.DeepCopy()
	for i := range out.Resources {
		rc := &out.Resources[i]
		if len(rc.Providers) == 0 {
			continue
		}
		if ks, _ := keys(&rc.Providers[0]); ks != nil && len(*ks) > 1 {
			*ks = (*ks)[:1]
		}
	}
	return out
}
