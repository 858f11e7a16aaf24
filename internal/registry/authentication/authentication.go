// Package authentication serves the authentication.k8s.io/v1 reviews:
// TokenReview (is this bearer token valid, and whose is it — what the
// kubelet asks for the requests it serves) and SelfSubjectReview (kubectl
// auth whoami).
package authentication

import (
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/registry/rest"
	_ "k8s.io/kubernetes/pkg/apis/authentication/install" // conversions of the reviews
	"k8s.io/kubernetes/pkg/registry/authentication/selfsubjectreview"
	"k8s.io/kubernetes/pkg/registry/authentication/tokenreview"

	"skiff.dev/skiff/internal/registry/upstream"
)

// Storage returns the review resources of authentication.k8s.io/v1, keyed
// by resource name. tokens authenticates the reviewed bearer tokens for
// audiences when a review names none.
func Storage(tokens authenticator.Request, audiences []string) map[string]rest.Storage {
	return map[string]rest.Storage{
		"tokenreviews": &upstream.Review{Upstream: tokenreview.NewREST(tokens, audiences),
			External: func() runtime.Object { return &authenticationv1.TokenReview{} }},
		"selfsubjectreviews": &upstream.Review{Upstream: selfsubjectreview.NewREST(),
			External: func() runtime.Object { return &authenticationv1.SelfSubjectReview{} }},
	}
}
