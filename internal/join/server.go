package join

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	certutil "k8s.io/client-go/util/cert"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"

	"skiff.dev/skiff/internal/pki"
)

// Request asks for a node's client certificate.
type Request struct {
	NodeName string `json:"nodeName"`
	// CSR is a PEM "CERTIFICATE REQUEST" holding the node's public key.
	CSR string `json:"csr"`
	// ServingCSR, when set, asks as well for the serving certificate of the
	// node's kubelet server, for ServingHosts (its addresses and names).
	ServingCSR   string   `json:"servingCSR,omitempty"`
	ServingHosts []string `json:"servingHosts,omitempty"`
}

// Response carries the signed certificate and the CA, both PEM.
type Response struct {
	Certificate string `json:"certificate"`
	CA          string `json:"ca"`
	// ServingCertificate answers Request.ServingCSR.
	ServingCertificate string `json:"servingCertificate,omitempty"`
}

// TokenAuthenticator authenticates the server's join token's secret as the
// bootstrap user, and a bootstrap token ("ID.SECRET", see Secrets) as
// system:bootstrap:ID; both compare in constant time.
type TokenAuthenticator struct {
	Token Token
	// Secrets reads bootstrap tokens' Secrets; nil accepts the server's
	// token only.
	Secrets SecretGetter
	// Now defaults to time.Now.
	Now func() time.Time
}

// AuthenticateToken implements authenticator.Token.
func (a TokenAuthenticator) AuthenticateToken(ctx context.Context, value string) (*authenticator.Response, bool, error) {
	if id, secret, ok := parseBootstrapToken(value); ok && a.Secrets != nil {
		s, err := a.Secrets(ctx, bootstraputil.BootstrapTokenSecretName(id))
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("bootstrap token %s: %w", id, err)
		}
		now := time.Now
		if a.Now != nil {
			now = a.Now
		}
		u, _ := checkBootstrapToken(s, id, secret, now())
		if u == nil {
			return nil, false, nil
		}
		return &authenticator.Response{User: u}, true, nil
	}
	if !a.Token.Matches(value) {
		return nil, false, nil
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: BootstrapUser, Groups: []string{BootstrapGroup, user.AllAuthenticated}}}, true, nil
}

// Authorizer lets bootstrap users reach the credentials endpoint only and
// defers every other user to next.
func Authorizer(next authorizer.Authorizer) authorizer.Authorizer {
	return authorizer.AuthorizerFunc(func(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
		if u := attrs.GetUser(); u != nil {
			for _, g := range u.GetGroups() {
				if g == BootstrapGroup {
					if !attrs.IsResourceRequest() && attrs.GetPath() == Path {
						return authorizer.DecisionAllow, "", nil
					}
					return authorizer.DecisionDeny, "a join token only obtains node credentials", nil
				}
			}
		}
		return next.Authorize(ctx, attrs)
	})
}

// Handler signs node client certificates for authenticated callers.
func Handler(ca *pki.CA) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if _, ok := genericapirequest.UserFrom(r.Context()); !ok {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		var req Request
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
			http.Error(w, fmt.Sprintf("bad request: %v", err), http.StatusBadRequest)
			return
		}
		if errs := validation.IsDNS1123Subdomain(req.NodeName); len(errs) > 0 {
			http.Error(w, fmt.Sprintf("nodeName %q: %v", req.NodeName, errs), http.StatusUnprocessableEntity)
			return
		}
		csr, err := parseCSR(req.CSR)
		if err != nil {
			http.Error(w, fmt.Sprintf("csr: %v", err), http.StatusBadRequest)
			return
		}
		node := pki.Leaf{CommonName: "system:node:" + req.NodeName, Organization: []string{"system:nodes"}}
		cert, err := ca.Sign(csr.PublicKey, node)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		certPEM, _ := certutil.EncodeCertificates(cert)
		caPEM, _ := certutil.EncodeCertificates(ca.Cert)
		resp := Response{Certificate: string(certPEM), CA: string(caPEM)}
		if req.ServingCSR != "" {
			serving, err := parseCSR(req.ServingCSR)
			if err != nil {
				http.Error(w, fmt.Sprintf("servingCSR: %v", err), http.StatusBadRequest)
				return
			}
			if err := validateHosts(req.ServingHosts); err != nil {
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
				return
			}
			// A kubelet serving certificate, as the kubernetes.io/kubelet-serving
			// signer issues: the node's identity, its addresses, server auth.
			node.DNSNames, node.IPs = pki.Hosts(req.ServingHosts)
			node.ServerOnly = true
			cert, err := ca.Sign(serving.PublicKey, node)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			servingPEM, _ := certutil.EncodeCertificates(cert)
			resp.ServingCertificate = string(servingPEM)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

// parseCSR reads a PEM certificate request and checks its signature.
func parseCSR(s string) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil || block.Type != certutil.CertificateRequestBlockType {
		return nil, errors.New("want a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	return csr, csr.CheckSignature()
}

// validateHosts accepts at least one host, each an IP address or a DNS
// subdomain name.
func validateHosts(hosts []string) error {
	if len(hosts) == 0 {
		return errors.New("servingHosts: at least one address is required with servingCSR")
	}
	for _, h := range hosts {
		if net.ParseIP(h) != nil {
			continue
		}
		if errs := validation.IsDNS1123Subdomain(h); len(errs) > 0 {
			return fmt.Errorf("servingHosts %q: %v", h, errs)
		}
	}
	return nil
}
