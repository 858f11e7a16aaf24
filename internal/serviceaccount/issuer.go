package serviceaccount

import (
	"context"
	"fmt"
	"time"

	restful "github.com/emicklei/go-restful/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/routes"
	k8ssa "k8s.io/kubernetes/pkg/serviceaccount"

	"skiff.dev/skiff/internal/wellknown"
)

const defaultIssuer = wellknown.DefaultServiceAccountIssuer

// Issuer signs service account tokens and verifies them.
type Issuer struct {
	issuers       []string
	audiences     authenticator.Audiences
	maxExpiration time.Duration
	generator     k8ssa.TokenGenerator
	keys          k8ssa.PublicKeysGetter
}

// New loads the keys opts name; opts.SigningKeyFile must be set (see
// EnsureSigningKey).
func New(opts Options) (*Issuer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	signer, public, err := loadKeys(opts.SigningKeyFile, opts.KeyFiles)
	if err != nil {
		return nil, err
	}
	issuers := opts.issuers()
	generator, err := k8ssa.JWTTokenGenerator(issuers[0], signer)
	if err != nil {
		return nil, fmt.Errorf("service account token signer: %w", err)
	}
	keys, err := k8ssa.StaticPublicKeysGetter(public)
	if err != nil {
		return nil, fmt.Errorf("service account public keys: %w", err)
	}
	return &Issuer{
		issuers: issuers, audiences: opts.audiences(), maxExpiration: opts.MaxTokenExpiration,
		generator: generator, keys: keys,
	}, nil
}

// Audiences are the API's audiences (--api-audiences).
func (i *Issuer) Audiences() authenticator.Audiences { return i.audiences }

// MaxExpiration caps requested lifetimes; 0 is no cap.
func (i *Issuer) MaxExpiration() time.Duration { return i.maxExpiration }

// Binding is what a token is bound to: a pod (and the node it runs on), or
// a secret, or nothing.
type Binding struct {
	Pod    *corev1.Pod
	Node   *corev1.Node
	Secret *corev1.Secret
}

// Issue signs a token for sa, valid from now for expirationSeconds, with
// the claims kube-apiserver writes (kubernetes.io: namespace,
// serviceaccount, pod, node, secret).
func (i *Issuer) Issue(ctx context.Context, sa *corev1.ServiceAccount, b Binding, expirationSeconds int64, audiences []string) (string, error) {
	// Claims reads only the objects' metadata, which the internal and
	// external types share.
	var (
		pod    *core.Pod
		node   *core.Node
		secret *core.Secret
	)
	if b.Pod != nil {
		pod = &core.Pod{ObjectMeta: b.Pod.ObjectMeta}
	}
	if b.Node != nil {
		node = &core.Node{ObjectMeta: b.Node.ObjectMeta}
	}
	if b.Secret != nil {
		secret = &core.Secret{ObjectMeta: b.Secret.ObjectMeta}
	}
	public, private, err := k8ssa.Claims(core.ServiceAccount{ObjectMeta: sa.ObjectMeta}, pod, secret, node, nil, nil,
		expirationSeconds, 0, audiences, nil)
	if err != nil {
		return "", err
	}
	return i.generator.GenerateToken(ctx, public, private)
}

// Authenticator authenticates bearer tokens this issuer (or a key of
// --service-account-key-file) signed, for one of the API's audiences, while
// their service account and the pod or secret they are bound to exist with
// the UIDs the token names: as user system:serviceaccount:NS:NAME, in the
// groups system:serviceaccounts, system:serviceaccounts:NS and
// system:authenticated, with the pod's and node's names and UIDs as extra
// information.
func (i *Issuer) Authenticator(getter k8ssa.ServiceAccountTokenGetter) authenticator.Request {
	token := k8ssa.JWTTokenAuthenticator(i.issuers, i.keys, i.audiences, k8ssa.NewValidator(getter))
	return group.NewAuthenticatedGroupAdder(bearertoken.New(token))
}

// InstallDiscovery serves the OIDC discovery document and the key set on c
// (/.well-known/openid-configuration, /openid/v1/jwks). The key set's URL
// is https://externalAddress/openid/v1/jwks. An issuer that is not an https
// URL serves no discovery, as in kube-apiserver; the error says why.
func (i *Issuer) InstallDiscovery(c *restful.Container, externalAddress string) error {
	provider, err := k8ssa.NewOpenIDMetadataProvider(i.issuers[0], "", externalAddress, i.keys)
	if err != nil {
		return fmt.Errorf("service account issuer discovery: %w", err)
	}
	routes.NewOpenIDMetadataServer(provider).Install(c)
	return nil
}

// DiscoveryPaths are the paths InstallDiscovery serves.
func DiscoveryPaths() []string {
	return []string{k8ssa.OpenIDConfigPath, k8ssa.JWKSPath}
}
