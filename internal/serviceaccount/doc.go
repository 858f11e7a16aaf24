// Package serviceaccount issues and verifies service account tokens as
// kube-apiserver does: bound, expiring JWTs signed with a key kept in the
// data dir (k8s.io/kubernetes/pkg/serviceaccount's generator, claims and
// validator), the token authenticator that accepts them while the service
// account and the object they are bound to still exist, and the OIDC
// discovery documents (/.well-known/openid-configuration, /openid/v1/jwks)
// relying parties verify them with.
package serviceaccount
