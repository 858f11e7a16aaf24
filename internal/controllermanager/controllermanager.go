// Package controllermanager runs skiff's control plane loops — the
// controllers and the scheduler — against the API server, each set under its
// own leader-election Lease so that several `skiff server` processes sharing
// one etcd run exactly one of each.
package controllermanager

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"

	"skiff.dev/skiff/internal/controller/csrsigning"
	"skiff.dev/skiff/internal/controller/nodeipam"
	"skiff.dev/skiff/internal/controller/nodelifecycle"
	"skiff.dev/skiff/internal/controller/podautoscaler"
	"skiff.dev/skiff/internal/controller/podgc"
)

// Lease names, as Kubernetes' own components use them in kube-system.
const (
	ControllerManagerLease = "kube-controller-manager"
	SchedulerLease         = "kube-scheduler"
	leaseNamespace         = "kube-system"
)

// Config configures the control plane.
type Config struct {
	// RestConfig reaches the API server with the right to impersonate:
	// the controllers and the scheduler act as Kubernetes' own identities
	// (system:kube-controller-manager for the shared informers and leader
	// election, each controller as its kube-system service account as with
	// kube-controller-manager --use-service-account-credentials, and
	// system:kube-scheduler), so the bootstrap RBAC policy bounds what each
	// may do.
	RestConfig *rest.Config
	// Identity names this process in the leader-election Leases; defaults to
	// hostname_uuid.
	Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election
	// (Kubernetes' defaults 15 s, 10 s, 2 s when zero).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// NodeLifecycle, PodGC and NodeIPAM are the options of the controllers
	// that `skiff server` exposes as flags (kube-controller-manager's
	// --node-monitor-grace-period, --terminated-pod-gc-threshold,
	// --cluster-cidr and --node-cidr-mask-size); zero values take the
	// controllers' defaults, except PodGC.TerminatedPodThreshold, whose zero
	// turns that collection off (podgc.DefaultTerminatedPodThreshold is the
	// flag's default). Their Logger is Logger.
	NodeLifecycle nodelifecycle.Options
	PodGC         podgc.Options
	NodeIPAM      nodeipam.Options
	// PodAutoscaler is the HorizontalPodAutoscaler controller's options
	// (kube-controller-manager's --horizontal-pod-autoscaler-* flags);
	// zero values take its defaults. Its Logger is Logger.
	PodAutoscaler podautoscaler.Options
	// DisableServiceLB turns off the built-in LoadBalancer implementation
	// (internal/controller/servicelb; `skiff server --disable-servicelb`).
	DisableServiceLB bool
	// RootCAFile is the CA published in every namespace as the
	// kube-root-ca.crt ConfigMap (kube-controller-manager's
	// --root-ca-file); empty publishes none.
	RootCAFile string
	// SigningCA, when set, signs the approved CertificateSigningRequests
	// of the kubernetes.io/kube-apiserver-client signer (the cluster CA,
	// kube-controller-manager's --cluster-signing-cert-file and -key-file).
	SigningCA csrsigning.Signer
	Logger    *slog.Logger
}

// Run runs the controller manager and the scheduler until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		cfg.Identity = host + "_" + uuid.NewString()
	}
	restCfg := rest.CopyConfig(cfg.RestConfig)
	restCfg.ContentType = "application/vnd.kubernetes.protobuf"
	restCfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	// One client for every controller and the scheduler: client-go's
	// default 5 QPS would cap binding at 5 pods/s.
	restCfg.QPS, restCfg.Burst = 1000, 2000
	sets := []struct {
		lease, user string
		run         func(ctx context.Context, d deps)
	}{
		{ControllerManagerLease, user.KubeControllerManager, runControllers},
		{SchedulerLease, user.KubeScheduler, runScheduler},
	}
	var wg sync.WaitGroup
	for _, set := range sets {
		d, err := newDeps(restCfg, set.user, cfg)
		if err != nil {
			return err
		}
		wg.Go(func() { lead(ctx, d, set.lease, set.run) })
	}
	wg.Wait()
	return nil
}

// newDeps returns the clients of a component acting as user.
func newDeps(base *rest.Config, userName string, cfg Config) (deps, error) {
	d := deps{base: base, cfg: cfg, restConfig: as(base, userName)}
	var err error
	if d.client, err = kubernetes.NewForConfig(d.restConfig); err != nil {
		return deps{}, fmt.Errorf("%s client: %w", userName, err)
	}
	return d, nil
}

// as returns base acting as userName (impersonation).
func as(base *rest.Config, userName string) *rest.Config {
	c := rest.CopyConfig(base)
	c.Impersonate = rest.ImpersonationConfig{UserName: userName}
	return c
}

// controller returns the clients a controller writes with: its service
// account kube-system/name, bound by the bootstrap policy to the
// ClusterRole system:controller:name.
func (d deps) controller(name string) (kubernetes.Interface, metadata.Interface, *rest.Config) {
	cfg := as(d.base, serviceaccount.MakeUsername(metav1.NamespaceSystem, name))
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		// Only a malformed base configuration fails, and that failed
		// already in newDeps.
		panic(fmt.Sprintf("client of %s: %v", name, err))
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		panic(fmt.Sprintf("metadata client of %s: %v", name, err))
	}
	return client, md, cfg
}

// lead campaigns for lease until ctx ends, running fn while leading.
// Losing the lease stops fn and the process campaigns again.
func lead(ctx context.Context, d deps, lease string, fn func(ctx context.Context, d deps)) {
	cfg, client := d.cfg, d.client
	log := cfg.Logger.With("lease", lease)
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metaFor(lease),
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			Name:            lease,
			LeaseDuration:   orDefault(cfg.LeaseDuration, 15*time.Second),
			RenewDeadline:   orDefault(cfg.RenewDeadline, 10*time.Second),
			RetryPeriod:     orDefault(cfg.RetryPeriod, 2*time.Second),
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					log.Info("became leader", "identity", cfg.Identity)
					d.events = newRecorders(client)
					defer d.events.shutdown()
					fn(ctx, d)
				},
				OnStoppedLeading: func() { log.Info("stopped leading", "identity", cfg.Identity) },
				OnNewLeader: func(identity string) {
					if identity != cfg.Identity {
						log.Info("another process leads", "leader", identity)
					}
				},
			},
		})
		if err != nil {
			log.Error("leader election", "err", err)
			return
		}
		le.Run(ctx)
	}
}

// deps is what every set of components gets.
type deps struct {
	// client and restConfig are the component's own identity: its shared
	// informers, leader election and events.
	client     kubernetes.Interface
	restConfig *rest.Config
	// base may impersonate; controller derives the controllers' clients.
	base   *rest.Config
	cfg    Config
	events *recorders
}

// recorders hands out core/v1 event recorders, one per component name, over
// one broadcaster.
type recorders struct {
	broadcaster record.EventBroadcaster
}

func newRecorders(client kubernetes.Interface) *recorders {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return &recorders{broadcaster: b}
}

func (r *recorders) For(component string) record.EventRecorder {
	return r.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
}

func (r *recorders) shutdown() { r.broadcaster.Shutdown() }

// startAll starts the factory's informers, runs every fn, and waits for all
// of them to return once ctx ends.
func startAll(ctx context.Context, factory informers.SharedInformerFactory, fns ...func(ctx context.Context)) {
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(func() { fn(ctx) })
	}
	<-ctx.Done()
	wg.Wait()
	factory.Shutdown()
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
