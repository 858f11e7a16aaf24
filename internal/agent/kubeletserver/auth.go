package kubeletserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	apiserverapi "k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/client-go/kubernetes"
)

// Authenticator identifies the caller of a request (a client certificate
// of the cluster CA, a bearer token through TokenReview); false without an
// error means anonymous.
type Authenticator interface {
	AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error)
}

// Authorizer decides whether the caller may do what the attributes say
// (SubjectAccessReview).
type Authorizer interface {
	Authorize(ctx context.Context, a authorizer.Attributes) (authorizer.Decision, string, error)
}

// Auth is who may call the kubelet server: every route is behind it.
type Auth struct {
	Authenticator Authenticator
	Authorizer    Authorizer
}

// The kubelet's defaults for its webhook authentication and authorization
// caches (KubeletConfiguration authentication.webhook.cacheTTL,
// authorization.webhook.cacheAuthorizedTTL and cacheUnauthorizedTTL).
const (
	authnCacheTTL        = 2 * time.Minute
	authzAllowedCacheTTL = 5 * time.Minute
	authzDeniedCacheTTL  = 30 * time.Second
)

// AuthConfig configures NewAuth.
type AuthConfig struct {
	// Client reaches the API server's TokenReview and SubjectAccessReview
	// (with the node's own credentials).
	Client kubernetes.Interface
	// ClientCA is the PEM bundle that signs callers' client certificates:
	// the cluster CA.
	ClientCA []byte
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// NewAuth builds the kubelet's authentication and authorization, as the
// kubelet's webhook modes do: a client certificate of ClientCA names its
// user and groups, a bearer token is reviewed by the API server
// (TokenReview), anonymous requests are refused, and every request is
// authorized by a SubjectAccessReview on the node (see
// RequestAttributes); answers are cached with the kubelet's TTLs.
func NewAuth(ctx context.Context, cfg AuthConfig) (Auth, error) {
	if cfg.Client == nil {
		return Auth{}, errors.New("kubelet server auth: a client is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ca, err := dynamiccertificates.NewStaticCAContent("client-ca-bundle", cfg.ClientCA)
	if err != nil {
		return Auth{}, fmt.Errorf("kubelet server client CA: %w", err)
	}
	authn, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:                          &apiserverapi.AnonymousAuthConfig{Enabled: false},
		CacheTTL:                           authnCacheTTL,
		ClientCertificateCAContentProvider: ca,
		TokenAccessReviewClient:            cfg.Client.AuthenticationV1(),
		WebhookRetryBackoff:                genericoptions.DefaultAuthWebhookRetryBackoff(),
	}.New()
	if err != nil {
		return Auth{}, fmt.Errorf("kubelet server authentication: %w", err)
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: cfg.Client.AuthorizationV1(),
		AllowCacheTTL:             authzAllowedCacheTTL,
		DenyCacheTTL:              authzDeniedCacheTTL,
		WebhookRetryBackoff:       genericoptions.DefaultAuthWebhookRetryBackoff(),
	}.New()
	if err != nil {
		return Auth{}, fmt.Errorf("kubelet server authorization: %w", err)
	}
	return Auth{Authenticator: authn, Authorizer: authz}, nil
}

// isSubpath reports whether p is root or below it.
func isSubpath(p, root string) bool {
	root = strings.TrimSuffix(root, "/")
	return p == root || strings.HasPrefix(p, root+"/")
}

// subresources are the node subresources a request path is authorized
// as, in the order they are tried: the kubelet's fine-grained ones
// (pods, healthz, configz), which fall back to proxy, then stats, metrics,
// log, checkpoint, statusz, configz for /flagz, and proxy for the rest
// (logs, exec, attach, port-forward).
func subresources(path string) []string {
	var out []string
	switch {
	case isSubpath(path, "/allocatedPods"), isSubpath(path, "/pods"), isSubpath(path, "/runningpods"):
		out = append(out, "pods")
	case isSubpath(path, "/healthz"):
		out = append(out, "healthz")
	case isSubpath(path, "/configz"):
		out = append(out, "configz")
	}
	switch {
	case isSubpath(path, "/stats"):
		return append(out, "stats")
	case isSubpath(path, "/metrics"):
		return append(out, "metrics")
	case isSubpath(path, "/logs"):
		return append(out, "log")
	case isSubpath(path, "/checkpoint"):
		return append(out, "checkpoint")
	case isSubpath(path, "/statusz"):
		return append(out, "statusz")
	case isSubpath(path, "/flagz"):
		return append(out, "configz")
	}
	return append(out, "proxy")
}

// apiVerb is the API verb of an HTTP method, as the kubelet maps it.
func apiVerb(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodGet:
		return "get"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return ""
}

// RequestAttributes are the authorization attributes of a request to the
// kubelet server of node by u, as the kubelet builds them: the node
// resource (core v1) with the request's verb and one subresource each, any
// one of which allowed lets the request through.
func RequestAttributes(node string, u user.Info, r *http.Request) []authorizer.Attributes {
	verb := apiVerb(r.Method)
	subs := subresources(r.URL.Path)
	attrs := make([]authorizer.Attributes, 0, len(subs))
	for _, sub := range subs {
		attrs = append(attrs, authorizer.AttributesRecord{
			User:            u,
			Verb:            verb,
			APIVersion:      "v1",
			Resource:        "nodes",
			Subresource:     sub,
			Name:            node,
			ResourceRequest: true,
			Path:            r.URL.Path,
		})
	}
	return attrs
}

// withAuth lets through the requests auth authenticates and authorizes for
// the node nodeName names; others get the kubelet's answers: 401
// Unauthorized, 403 naming the user, verb and subresources, 500 when the
// authorizer fails.
func withAuth(auth Auth, nodeName func(*http.Request) string, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, ok, err := auth.Authenticator.AuthenticateRequest(r)
		if err != nil {
			log.Debug("kubelet server: unable to authenticate the request", "err", err)
		}
		if err != nil || !ok {
			writeText(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		attrs := RequestAttributes(nodeName(r), resp.User, r)
		subs := make([]string, 0, len(attrs))
		for _, a := range attrs {
			subs = append(subs, a.GetSubresource())
			decision, _, err := auth.Authorizer.Authorize(r.Context(), a)
			if err != nil {
				log.Error("kubelet server: authorization error", "user", a.GetUser().GetName(), "verb", a.GetVerb(), "subresource", a.GetSubresource(), "err", err)
				writeText(w, http.StatusInternalServerError, fmt.Sprintf("Authorization error (user=%s, verb=%s, resource=%s, subresource=%s)",
					a.GetUser().GetName(), a.GetVerb(), a.GetResource(), a.GetSubresource()))
				return
			}
			if decision == authorizer.DecisionAllow {
				next.ServeHTTP(w, r)
				return
			}
		}
		log.Debug("kubelet server: forbidden", "user", resp.User.GetName(), "verb", attrs[0].GetVerb(), "subresources", subs)
		writeText(w, http.StatusForbidden, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=%s, subresource(s)=%v)\n",
			resp.User.GetName(), attrs[0].GetVerb(), attrs[0].GetResource(), subs))
	})
}

// writeText answers with a plain-text error, as the kubelet's filters do.
func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg))
}
