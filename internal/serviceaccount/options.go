package serviceaccount

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Options are kube-apiserver's service account token flags.
type Options struct {
	// Issuers are the accepted iss claims (--service-account-issuer); the
	// first is written into new tokens. Default
	// wellknown.DefaultServiceAccountIssuer.
	Issuers []string
	// KeyFiles hold further public (or private) keys, PEM, that verify
	// tokens (--service-account-key-file), for keys rotated out.
	KeyFiles []string
	// SigningKeyFile is the private key that signs tokens
	// (--service-account-signing-key-file); default
	// <data-dir>/tls/service-account.key, created (RSA 2048, mode 0600) on
	// the first start.
	SigningKeyFile string
	// MaxTokenExpiration caps the lifetime of requested tokens
	// (--service-account-max-token-expiration); 0 is no cap.
	// kube-apiserver refuses a cap under an hour; skiff takes any cap, so
	// that tests can watch tokens expire and be refreshed.
	MaxTokenExpiration time.Duration
	// APIAudiences are the audiences of the API (--api-audiences): tokens
	// requested without one get them, and tokens for the API must carry
	// one. Default: the Issuers.
	APIAudiences []string
}

// Validate reports options kube-apiserver would refuse.
func (o Options) Validate() error {
	var errs []error
	for _, iss := range o.Issuers {
		if iss == "" {
			errs = append(errs, errors.New("service-account-issuer: must not be empty"))
			continue
		}
		// As kube-apiserver: an issuer is a URL or a plain string without a
		// colon.
		if strings.Contains(iss, ":") {
			if _, err := url.Parse(iss); err != nil {
				errs = append(errs, fmt.Errorf("service-account-issuer %q contained a ':' but was not a valid URL: %w", iss, err))
			}
		}
	}
	if o.MaxTokenExpiration < 0 {
		errs = append(errs, errors.New("service-account-max-token-expiration: must not be negative"))
	}
	if o.MaxTokenExpiration > (1<<32)*time.Second {
		errs = append(errs, errors.New("service-account-max-token-expiration: must be at most 2^32 seconds"))
	}
	return errors.Join(errs...)
}

// issuers is Issuers with the default.
func (o Options) issuers() []string {
	if len(o.Issuers) == 0 {
		return []string{defaultIssuer}
	}
	return o.Issuers
}

// audiences is APIAudiences with the default.
func (o Options) audiences() []string {
	if len(o.APIAudiences) == 0 {
		return o.issuers()
	}
	return o.APIAudiences
}
