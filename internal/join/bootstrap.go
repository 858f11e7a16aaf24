package join

import (
	"context"
	"crypto/subtle"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecretutil "k8s.io/cluster-bootstrap/util/secrets"
)

// Extra join tokens are Kubernetes bootstrap tokens: Secrets of type
// bootstrap.kubernetes.io/token named bootstrap-token-ID in kube-system,
// holding the token's ID, its secret, an expiration and its usages. An
// agent presents "ID.SECRET" where it presents the server's own token's
// secret; the join token it is given reads "skiff-<CA hash>.ID.SECRET".

// SecretGetter reads a kube-system Secret (a bootstrap token's).
type SecretGetter func(ctx context.Context, name string) (*corev1.Secret, error)

// checkBootstrapToken decides, as Kubernetes' bootstrap token
// authenticator does, whether the bootstrap token id.tokenSecret matches
// the Secret s at now: the user it authenticates as
// (system:bootstrap:ID, in system:bootstrappers and the token's extra
// groups), or why not.
func checkBootstrapToken(s *corev1.Secret, id, tokenSecret string, now time.Time) (user.Info, string) {
	switch {
	case s.Type != corev1.SecretTypeBootstrapToken:
		return nil, "not of type " + string(corev1.SecretTypeBootstrapToken)
	case s.DeletionTimestamp != nil:
		return nil, "being deleted"
	case bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenIDKey) != id:
		return nil, "another token ID"
	case subtle.ConstantTimeCompare([]byte(bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenSecretKey)), []byte(tokenSecret)) != 1:
		return nil, "wrong secret"
	case bootstrapsecretutil.HasExpired(s, now):
		return nil, "expired"
	case bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenUsageAuthentication) != "true":
		return nil, "not for authentication"
	}
	groups, err := bootstrapsecretutil.GetGroups(s)
	if err != nil {
		return nil, err.Error()
	}
	return &user.DefaultInfo{Name: bootstrapapi.BootstrapUserPrefix + id, Groups: append(groups, user.AllAuthenticated)}, ""
}

// parseBootstrapToken splits "ID.SECRET"; ok is false for anything else
// (the server's own token's secret has no dot).
func parseBootstrapToken(value string) (id, secret string, ok bool) {
	m := bootstraputil.BootstrapTokenRegexp.FindStringSubmatch(value)
	if len(m) != 3 {
		return "", "", false
	}
	return m[1], m[2], true
}
