package encryption

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
)

var now = time.Date(2026, 12, 7, 14, 30, 0, 0, time.UTC)

func key(name string) apiserverv1.Key { return apiserverv1.Key{Name: name, Secret: "c2VjcmV0"} }

func entry(providers ...apiserverv1.ProviderConfiguration) *apiserverv1.EncryptionConfiguration {
	return &apiserverv1.EncryptionConfiguration{Resources: []apiserverv1.ResourceConfiguration{{Resources: []string{"secrets"}, Providers: providers}}}
}

func aescbc(names ...string) apiserverv1.ProviderConfiguration {
	var ks []apiserverv1.Key
	for _, n := range names {
		ks = append(ks, key(n))
	}
	return apiserverv1.ProviderConfiguration{AESCBC: &apiserverv1.AESConfiguration{Keys: ks}}
}

var identity = apiserverv1.ProviderConfiguration{Identity: &apiserverv1.IdentityConfiguration{}}

func firstKeys(cfg *apiserverv1.EncryptionConfiguration) []string {
	ks, _ := keys(&cfg.Resources[0].Providers[0])
	var names []string
	for _, k := range *ks {
		names = append(names, k.Name)
	}
	return names
}

// A rotation puts the new key first and keeps the old one until Retire
// drops it; identity and KMS have no keys to rotate.
func TestWithNewKeyAndRetire(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cfg         *apiserverv1.EncryptionConfiguration
		wantKeys    []string
		wantRetired []string
		wantErr     string
	}{
		{name: "aescbc", cfg: entry(aescbc("old"), identity), wantKeys: []string{"new", "old"}, wantRetired: []string{"new"}},
		{name: "two old keys", cfg: entry(aescbc("old", "older")), wantKeys: []string{"new", "old", "older"}, wantRetired: []string{"new"}},
		{name: "secretbox", cfg: entry(apiserverv1.ProviderConfiguration{Secretbox: &apiserverv1.SecretboxConfiguration{Keys: []apiserverv1.Key{key("old")}}}),
			wantKeys: []string{"new", "old"}, wantRetired: []string{"new"}},
		{name: "identity first", cfg: entry(identity, aescbc("old")), wantErr: "identity has no keys"},
		{name: "name taken", cfg: entry(aescbc("new")), wantErr: "already there"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.cfg.DeepCopy()
			got, err := WithNewKey(tc.cfg, key("new"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k := firstKeys(got); !slices.Equal(k, tc.wantKeys) {
				t.Errorf("keys %v, want %v", k, tc.wantKeys)
			}
			if k := firstKeys(Retire(got)); !slices.Equal(k, tc.wantRetired) {
				t.Errorf("retired: keys %v, want %v", k, tc.wantRetired)
			}
			if firstKeys(tc.cfg)[0] != firstKeys(before)[0] || len(firstKeys(tc.cfg)) != len(firstKeys(before)) {
				t.Error("the input was changed")
			}
		})
	}
}

func TestActiveAndStoredUnder(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		rc                    apiserverv1.ResourceConfiguration
		provider, key, prefix string
	}{
		{"aescbc", entry(aescbc("k1", "k0")).Resources[0], "aescbc", "k1", "k8s:enc:aescbc:v1:k1:"},
		{"aesgcm", entry(apiserverv1.ProviderConfiguration{AESGCM: &apiserverv1.AESConfiguration{Keys: []apiserverv1.Key{key("g")}}}).Resources[0], "aesgcm", "g", "k8s:enc:aesgcm:v1:g:"},
		{"kms v2", entry(apiserverv1.ProviderConfiguration{KMS: &apiserverv1.KMSConfiguration{APIVersion: "v2", Name: "vault"}}).Resources[0], "kms", "vault", "k8s:enc:kms:v2:vault:"},
		{"identity", entry(identity).Resources[0], "identity", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, k, prefix := Active(tc.rc)
			if p != tc.provider || k != tc.key || prefix != tc.prefix {
				t.Errorf("Active: %q %q %q, want %q %q %q", p, k, prefix, tc.provider, tc.key, tc.prefix)
			}
		})
	}
	for value, want := range map[string]string{
		"k8s:enc:aescbc:v1:aescbckey-1:\x01\x02": "aescbc:v1:aescbckey-1",
		"k8s\x00\x0a\x0d\x0a\x02v1":              "identity",
		"k8s:enc:garbage":                        "unknown",
	} {
		if got := StoredUnder([]byte(value)); got != want {
			t.Errorf("StoredUnder(%q) = %q, want %q", value, got, want)
		}
	}
}

// The default configuration is written once, owner-only, and reads back
// with a 32-byte aescbc key first and identity last.
func TestEnsure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "encryption-config.yaml")
	created, err := Ensure(path, bytes.NewReader(bytes.Repeat([]byte{7}, 64)), now)
	if err != nil || !created {
		t.Fatalf("Ensure: %v, %v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	cfg, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	provider, k, prefix := Active(cfg.Resources[0])
	if provider != AESCBC || k != "aescbckey-20261207T143000Z" || prefix != "k8s:enc:aescbc:v1:aescbckey-20261207T143000Z:" {
		t.Errorf("active %s %s %s", provider, k, prefix)
	}
	if last := cfg.Resources[0].Providers[len(cfg.Resources[0].Providers)-1]; last.Identity == nil {
		t.Error("identity is not the last provider")
	}
	before, _ := os.ReadFile(path)
	if created, err := Ensure(path, bytes.NewReader(nil), now.Add(time.Hour)); err != nil || created {
		t.Fatalf("second Ensure: %v, %v; want the file kept", created, err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the second Ensure changed the file")
	}
}

func TestConfigHashes(t *testing.T) {
	text := `# HELP apiserver_encryption_config_controller_last_config_info [ALPHA] ...
# TYPE apiserver_encryption_config_controller_last_config_info gauge
apiserver_encryption_config_controller_last_config_info{apiserver_id_hash="sha256:aa",hash="sha256:bb"} 1
apiserver_encryption_config_controller_automatic_reloads_total{apiserver_id_hash="sha256:aa",status="success"} 2
`
	if got := configHashes(text); !slices.Equal(got, []string{"sha256:bb"}) {
		t.Errorf("configHashes: %v", got)
	}
}
