package controllermanager

import (
	"context"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/client-go/informers"
	"k8s.io/kubernetes/pkg/controller/certificates/rootcacertpublisher"
	sacontroller "k8s.io/kubernetes/pkg/controller/serviceaccount"
)

// serviceAccountControllers are kube-controller-manager's serviceaccount
// controller (a default ServiceAccount in every namespace) and its
// root-ca-cert-publisher (the kube-root-ca.crt ConfigMap in every
// namespace, holding RootCAFile), from k8s.io/kubernetes.
func serviceAccountControllers(d deps, factory informers.SharedInformerFactory) ([]func(ctx context.Context), error) {
	core := factory.Core().V1()
	logger := logr.FromSlogHandler(d.cfg.Logger.Handler()).WithName("serviceaccount-controller")
	saClient, _, _ := d.controller("service-account-controller")
	sa, err := sacontroller.NewServiceAccountsController(logger, core.ServiceAccounts(), core.Namespaces(), saClient,
		sacontroller.DefaultServiceAccountsControllerOptions())
	if err != nil {
		return nil, fmt.Errorf("serviceaccount controller: %w", err)
	}
	fns := []func(ctx context.Context){func(ctx context.Context) { sa.Run(ctx, 1) }}
	if d.cfg.RootCAFile == "" {
		return fns, nil
	}
	ca, err := os.ReadFile(d.cfg.RootCAFile)
	if err != nil {
		return fns, fmt.Errorf("root CA publisher: %w", err)
	}
	pubClient, _, _ := d.controller("root-ca-cert-publisher")
	pub, err := rootcacertpublisher.NewPublisher(core.ConfigMaps(), core.Namespaces(), pubClient, ca)
	if err != nil {
		return fns, fmt.Errorf("root CA publisher: %w", err)
	}
	return append(fns, func(ctx context.Context) { pub.Run(ctx, 1) }), nil
}
