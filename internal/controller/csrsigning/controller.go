// Package csrsigning is the kubernetes.io/kube-apiserver-client signer, as
// kube-controller-manager's csrsigning controller runs it: it signs the
// approved CertificateSigningRequests of that signer with the cluster CA,
// for the requested spec.expirationSeconds (at least 10 minutes, at most
// the signing duration), and marks the ones whose usages are not a client
// certificate's Failed.
package csrsigning

import (
	"cmp"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	certificateslisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/cache"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/pki"
	"skiff.dev/skiff/internal/registry/certificates"
)

// DefaultSigningDuration is the longest certificate the signer issues
// (kube-controller-manager's --cluster-signing-duration default).
const DefaultSigningDuration = 365 * 24 * time.Hour

// minDuration is the shortest certificate the signer issues.
const minDuration = 10 * time.Minute

// Signer signs a public key as leaf describes (pki.CA).
type Signer interface {
	Sign(pub crypto.PublicKey, leaf pki.Leaf) (*x509.Certificate, error)
}

// Options tunes the controller. Zero values mean the defaults.
type Options struct {
	// Options are the worker count (default 5) and the logger.
	queue.Options
	// SigningDuration caps the certificates' validity (default
	// DefaultSigningDuration).
	SigningDuration time.Duration
	// Clock defaults to the real clock.
	Clock clock.WithTicker
}

// Controller signs kube-apiserver-client CSRs.
type Controller struct {
	client   kubernetes.Interface
	lister   certificateslisters.CertificateSigningRequestLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	ca       Signer
	duration time.Duration
	workers  int
	log      *slog.Logger
}

// New wires the event handlers; the caller starts the informer factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, ca Signer, opts Options) *Controller {
	opts.Options = opts.Options.Defaulted(5)
	opts.Clock = cmp.Or[clock.WithTicker](opts.Clock, clock.RealClock{})
	csrs := factory.Certificates().V1().CertificateSigningRequests()
	c := &Controller{
		client:   client,
		lister:   csrs.Lister(),
		synced:   csrs.Informer().HasSynced,
		queue:    queue.New[string]("certificate", opts.Clock),
		ca:       ca,
		duration: cmp.Or(opts.SigningDuration, DefaultSigningDuration),
		workers:  opts.Workers,
		log:      opts.Logger.With("controller", "csrsigning-kube-apiserver-client"),
	}
	_, _ = csrs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	return c
}

// Run waits for the cache, then runs the workers until ctx is done.
func (c *Controller) Run(ctx context.Context) {
	queue.RunWorkers(ctx, []cache.InformerSynced{c.synced},
		queue.Worker[string]{Queue: c.queue, Sync: c.sync, Workers: c.workers, Log: c.log})
}

func (c *Controller) enqueue(obj any) {
	if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok && Decide(csr) == actionNone {
		return
	}
	queue.Enqueue(c.queue, obj)
}

type action int

const (
	actionNone action = iota
	actionSign
)

// Decide says what the signer does with csr: sign it when it is this
// signer's, approved, neither denied nor failed, and not issued yet.
func Decide(csr *certificatesv1.CertificateSigningRequest) action {
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName || len(csr.Status.Certificate) > 0 {
		return actionNone
	}
	var approved bool
	for _, cond := range csr.Status.Conditions {
		switch cond.Type {
		case certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			return actionNone
		case certificatesv1.CertificateApproved:
			approved = cond.Status == corev1.ConditionTrue
		}
	}
	if !approved {
		return actionNone
	}
	return actionSign
}

// Duration is the validity of the certificate for a request of
// expirationSeconds (nil: none), capped at limit, at least 10 minutes.
func Duration(expirationSeconds *int32, limit time.Duration) time.Duration {
	if expirationSeconds == nil {
		return limit
	}
	return min(limit, max(time.Duration(*expirationSeconds)*time.Second, minDuration))
}

// ValidateUsages accepts a client certificate's usages: client auth, and
// optionally digital signature and key encipherment.
func ValidateUsages(usages []certificatesv1.KeyUsage) error {
	var client bool
	for _, u := range usages {
		switch u {
		case certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment:
		case certificatesv1.UsageClientAuth:
			client = true
		default:
			return fmt.Errorf("invalid usage for client certificate: %s", u)
		}
	}
	if !client {
		return fmt.Errorf("missing required usage for client certificate: %s", certificatesv1.UsageClientAuth)
	}
	return nil
}

func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if Decide(cached) != actionSign {
		return nil
	}
	csr := cached.DeepCopy()
	req, err := certificates.ParseRequest(csr.Spec.Request)
	if err != nil {
		return queue.Terminal(fmt.Errorf("csr %s: %w", name, err))
	}
	if err := ValidateUsages(csr.Spec.Usages); err != nil {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue,
			Reason: "SignerValidationFailure", Message: err.Error(), LastUpdateTime: metav1.Now(),
		})
		if _, err := c.client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("csr %s: adding the failure condition: %w", name, err)
		}
		return nil
	}
	cert, err := c.ca.Sign(req.PublicKey, pki.Leaf{
		CommonName: req.Subject.CommonName, Organization: req.Subject.Organization,
		Validity: Duration(csr.Spec.ExpirationSeconds, c.duration),
	})
	if err != nil {
		return fmt.Errorf("csr %s: %w", name, err)
	}
	if csr.Status.Certificate, err = certutil.EncodeCertificates(cert); err != nil {
		return errors.Join(fmt.Errorf("csr %s", name), err)
	}
	if _, err := c.client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("csr %s: writing the certificate: %w", name, err)
	}
	c.log.Info("signed a client certificate", "csr", name, "user", req.Subject.CommonName, "groups", req.Subject.Organization, "notAfter", cert.NotAfter)
	return nil
}
