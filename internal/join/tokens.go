package join

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecretutil "k8s.io/cluster-bootstrap/util/secrets"
)

// TokenRequest describes a bootstrap token to create.
type TokenRequest struct {
	// TTL is how long it lets agents join; 0 never expires.
	TTL         time.Duration
	Description string
	// Groups are extra groups (system:bootstrappers:...) it authenticates
	// in.
	Groups []string
}

// bootstrapTokenSecret is the Secret that holds bootstrap token id.secret.
func bootstrapTokenSecret(id, secret string, req TokenRequest, now time.Time) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstraputil.BootstrapTokenSecretName(id), Namespace: metav1.NamespaceSystem},
		Type:       corev1.SecretTypeBootstrapToken,
		Data: map[string][]byte{
			bootstrapapi.BootstrapTokenIDKey:               []byte(id),
			bootstrapapi.BootstrapTokenSecretKey:           []byte(secret),
			bootstrapapi.BootstrapTokenUsageAuthentication: []byte("true"),
			bootstrapapi.BootstrapTokenUsageSigningKey:     []byte("true"),
		},
	}
	if req.TTL > 0 {
		s.Data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(now.Add(req.TTL).UTC().Format(time.RFC3339))
	}
	if req.Description != "" {
		s.Data[bootstrapapi.BootstrapTokenDescriptionKey] = []byte(req.Description)
	}
	if len(req.Groups) > 0 {
		s.Data[bootstrapapi.BootstrapTokenExtraGroupsKey] = []byte(strings.Join(req.Groups, ","))
	}
	return s
}

// CreateToken creates a bootstrap token and returns the join token that
// carries it (with the CA hash agents pin).
func CreateToken(ctx context.Context, client kubernetes.Interface, caHash string, req TokenRequest, now time.Time) (Token, error) {
	for _, g := range req.Groups {
		if err := bootstraputil.ValidateBootstrapGroupName(g); err != nil {
			return Token{}, err
		}
	}
	value, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return Token{}, fmt.Errorf("bootstrap token: %w", err)
	}
	id, secret, _ := parseBootstrapToken(value)
	if _, err := client.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, bootstrapTokenSecret(id, secret, req, now), metav1.CreateOptions{}); err != nil {
		return Token{}, fmt.Errorf("bootstrap token %s: %w", id, err)
	}
	return Token{CAHash: caHash, Secret: value}, nil
}

// ListTokens prints the bootstrap tokens as kubeadm token list does.
func ListTokens(ctx context.Context, client kubernetes.Interface, caHash string, now time.Time, out io.Writer) error {
	list, err := client.CoreV1().Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list bootstrap tokens: %w", err)
	}
	w := tabwriter.NewWriter(out, 10, 4, 3, ' ', 0)
	fmt.Fprintln(w, "TOKEN\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS")
	for i := range list.Items {
		if list.Items[i].Type == corev1.SecretTypeBootstrapToken {
			fmt.Fprintln(w, tokenRow(&list.Items[i], caHash, now))
		}
	}
	return w.Flush()
}

// tokenRow is a token's row in ListTokens.
func tokenRow(s *corev1.Secret, caHash string, now time.Time) string {
	id := bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenIDKey)
	secret := bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenSecretKey)
	token := Token{CAHash: caHash, Secret: bootstraputil.TokenFromIDAndSecret(id, secret)}.String()
	ttl, expires := "<forever>", "<never>"
	if exp := bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenExpirationKey); exp != "" {
		expires = exp
		left, expired := bootstrapsecretutil.GetExpiration(s, now)
		if expired {
			ttl = "<invalid>"
		} else {
			ttl = duration.ShortHumanDuration(left)
		}
	}
	var usages []string
	for k, v := range s.Data {
		if u, ok := strings.CutPrefix(k, bootstrapapi.BootstrapTokenUsagePrefix); ok && string(v) == "true" {
			usages = append(usages, u)
		}
	}
	slices.Sort(usages)
	desc := bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenDescriptionKey)
	if desc == "" {
		desc = "<none>"
	}
	groups := bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenExtraGroupsKey)
	if groups == "" {
		groups = "<none>"
	}
	return strings.Join([]string{token, ttl, expires, strings.Join(usages, ","), desc, groups}, "\t")
}

// DeleteToken deletes the bootstrap token named by its ID, "ID.SECRET" or
// a whole join token; agents can no longer join with it.
func DeleteToken(ctx context.Context, client kubernetes.Interface, token string) (id string, err error) {
	id = token
	if t, err := ParseToken(token); err == nil {
		id = t.Secret
	}
	if i, _, ok := parseBootstrapToken(id); ok {
		id = i
	}
	if !bootstraputil.IsValidBootstrapTokenID(id) {
		return "", fmt.Errorf("%q is not a bootstrap token or token ID (want [a-z0-9]{6})", token)
	}
	err = client.CoreV1().Secrets(metav1.NamespaceSystem).Delete(ctx, bootstraputil.BootstrapTokenSecretName(id), metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return id, fmt.Errorf("bootstrap token %q not found", id)
	}
	return id, err
}

// CAHash is the hash join tokens carry of the CA in a client
// configuration (an admin kubeconfig's).
func CAHash(cfg *rest.Config) (string, error) {
	data := cfg.TLSClientConfig.CAData
	if len(data) == 0 && cfg.TLSClientConfig.CAFile != "" {
		b, err := os.ReadFile(cfg.TLSClientConfig.CAFile)
		if err != nil {
			return "", err
		}
		data = b
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "", errors.New("the kubeconfig holds no CA certificate")
	}
	sum := sha256.Sum256(block.Bytes)
	return hex.EncodeToString(sum[:]), nil
}
