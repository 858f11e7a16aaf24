// Package authorization serves the authorization.k8s.io/v1 reviews:
// SubjectAccessReview, SelfSubjectAccessReview, LocalSubjectAccessReview
// and SelfSubjectRulesReview, answered by the API server's own authorizer
// and rule resolver (kubectl auth can-i, including --list and --as).
package authorization

import (
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	_ "k8s.io/kubernetes/pkg/apis/authorization/install" // conversions and declarative validation of the reviews
	"k8s.io/kubernetes/pkg/registry/authorization/localsubjectaccessreview"
	"k8s.io/kubernetes/pkg/registry/authorization/selfsubjectaccessreview"
	"k8s.io/kubernetes/pkg/registry/authorization/selfsubjectrulesreview"
	"k8s.io/kubernetes/pkg/registry/authorization/subjectaccessreview"

	"skiff.dev/skiff/internal/registry/upstream"
)

// Storage returns the review resources of authorization.k8s.io/v1, keyed by
// resource name.
func Storage(authz authorizer.UnconditionalAuthorizer, rules authorizer.RuleResolver) map[string]rest.Storage {
	return map[string]rest.Storage{
		"subjectaccessreviews": &upstream.Review{Upstream: subjectaccessreview.NewREST(authz, legacyscheme.Scheme),
			External: func() runtime.Object { return &authorizationv1.SubjectAccessReview{} }},
		"selfsubjectaccessreviews": &upstream.Review{Upstream: selfsubjectaccessreview.NewREST(authz, legacyscheme.Scheme),
			External: func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} }},
		"localsubjectaccessreviews": &upstream.Review{Upstream: localsubjectaccessreview.NewREST(authz, legacyscheme.Scheme),
			External: func() runtime.Object { return &authorizationv1.LocalSubjectAccessReview{} }},
		"selfsubjectrulesreviews": &upstream.Review{Upstream: selfsubjectrulesreview.NewREST(rules),
			External: func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} }},
	}
}
