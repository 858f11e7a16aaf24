package encryption

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
)

// Rotate moves every object the configuration names to a new key, with the
// server running: it puts a new key first (the server then writes with it
// and still reads with the old one), waits until the server has reloaded
// the file, rewrites every object of every named resource through the API
// (the API server writes an object read under an old key again even when
// it is unchanged), checks in etcd that each is stored under the new key,
// and then retires the old key.
func Rotate(ctx context.Context, o Options) error {
	o.setDefaults()
	cfg, err := Read(o.ConfigPath)
	if err != nil {
		return err
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if len(cfg.Resources) == 0 || len(cfg.Resources[0].Providers) == 0 {
		return fmt.Errorf("%s: no resources are encrypted", o.ConfigPath)
	}
	provider, _, _ := Active(cfg.Resources[0])
	key, err := NewKey(o.Random, provider, o.Now())
	if err != nil {
		return err
	}
	next, err := WithNewKey(cfg, key)
	if err != nil {
		return fmt.Errorf("%s: %w", o.ConfigPath, err)
	}
	if err := Write(o.ConfigPath, next); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "added key %s to %s; waiting for the server to reload it\n", key.Name, o.ConfigPath)
	if err := waitReloaded(ctx, restCfg, o.ConfigPath, o.ReloadTimeout); err != nil {
		return err
	}
	fmt.Fprintln(o.Out, "the server writes with key", key.Name)
	for _, rc := range next.Resources {
		for _, name := range rc.Resources {
			n, err := rewrite(ctx, restCfg, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "rewrote %d %s\n", n, name)
		}
	}
	r, err := inspect(ctx, o)
	if err != nil {
		return err
	}
	if !r.allUnderActive() {
		_ = r.print(o.Out)
		return errors.New("some objects are not stored under the new key yet: the old key stays; run skiff secrets-encrypt rotate again")
	}
	retired := Retire(next)
	if err := Write(o.ConfigPath, retired); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "every object is stored under key %s; retired key %s (the server drops it at its next reload, within a minute)\n",
		key.Name, strings.Join(activeKeys(cfg), ", "))
	return nil
}

// waitReloaded waits until the server runs the configuration at path.
func waitReloaded(ctx context.Context, restCfg *rest.Config, path string, timeout time.Duration) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := serverRuns(ctx, restCfg, path)
		last = err
		return ok, nil
	})
	if err != nil {
		if last == nil {
			last = errors.New("is the server started with this --encryption-provider-config?")
		}
		return fmt.Errorf("the server did not reload %s within %s: %w", path, timeout, last)
	}
	return nil
}

// rewrite updates every object of resource (as the configuration names
// it: "secrets", "deployments.apps") unchanged, so that the API server
// stores it again with the key it writes with; it returns how many.
// Wildcard names are not rewritten.
func rewrite(ctx context.Context, restCfg *rest.Config, resource string) (int, error) {
	if strings.Contains(resource, "*") {
		return 0, nil
	}
	disc, err := discovery.NewDiscoveryClientForConfig(restCfg)
	if err != nil {
		return 0, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	gr := schema.ParseGroupResource(resource)
	gvr, err := mapper.ResourceFor(gr.WithVersion(""))
	if err != nil {
		return 0, fmt.Errorf("resource %s: %w", resource, err)
	}
	dyn, err := dynamic.NewForConfig(restCfg)
	if err != nil {
		return 0, err
	}
	client := dyn.Resource(gvr)
	n := 0
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := client.List(ctx, opts)
		if err != nil {
			return n, fmt.Errorf("list %s: %w", resource, err)
		}
		for _, item := range list.Items {
			ns, name := item.GetNamespace(), item.GetName()
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				obj, err := client.Namespace(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				_, err = client.Namespace(ns).Update(ctx, obj, metav1.UpdateOptions{})
				return err
			})
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				return n, fmt.Errorf("rewrite %s %s/%s: %w", resource, ns, name, err)
			default:
				n++
			}
		}
		if opts.Continue = list.GetContinue(); opts.Continue == "" {
			return n, nil
		}
	}
}
