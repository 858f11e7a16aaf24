package encryption

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"skiff.dev/skiff/internal/storage/etcd"
)

// Options are what `skiff secrets-encrypt` needs: it runs where the server
// does, with the server's configuration file, an administrator's kubeconfig
// and a client of the server's etcd.
type Options struct {
	// ConfigPath is the encryption configuration the server reads.
	ConfigPath string
	// Kubeconfig reaches the API server as an administrator.
	Kubeconfig string
	// Etcd reaches the server's etcd, where Status reads how each object is
	// stored.
	Etcd etcd.ClientConfig
	// EtcdPrefix is the server's key prefix (default /registry).
	EtcdPrefix string
	// ReloadTimeout bounds the wait for the server to reload the
	// configuration (default 3 minutes: the server looks at the file every
	// minute).
	ReloadTimeout time.Duration
	// Out receives the report.
	Out io.Writer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now and Random default to the clock and crypto/rand (tests set them).
	Now    func() time.Time
	Random io.Reader
}

func (o *Options) setDefaults() {
	if o.EtcdPrefix == "" {
		o.EtcdPrefix = "/registry"
	}
	if o.ReloadTimeout == 0 {
		o.ReloadTimeout = 3 * time.Minute
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Random == nil {
		o.Random = rand.Reader
	}
}

// report is what Status prints.
type report struct {
	path string
	// entries are the configuration's resource entries.
	entries []entryReport
	// reloaded: the server runs the file as it is now.
	reloaded bool
	// serverErr says why the server could not be asked.
	serverErr error
}

type entryReport struct {
	provider, key string
	resources     []resourceReport
}

// resourceReport counts a resource's objects in etcd by what they are
// stored under.
type resourceReport struct {
	name        string
	total       int
	underActive int
	// skipped says why the resource was not counted (a wildcard).
	skipped string
}

// Status prints whether encryption is on, the active key of every resource
// entry, whether the server runs the configuration as the file holds it,
// and how many objects of each named resource are stored under the active
// key.
func Status(ctx context.Context, o Options) error {
	o.setDefaults()
	r, err := inspect(ctx, o)
	if err != nil {
		return err
	}
	return r.print(o.Out)
}

func inspect(ctx context.Context, o Options) (report, error) {
	r := report{path: o.ConfigPath}
	cfg, err := Read(o.ConfigPath)
	if err != nil {
		return r, err
	}
	if restCfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig); err != nil {
		r.serverErr = err
	} else {
		r.reloaded, r.serverErr = serverRuns(ctx, restCfg, o.ConfigPath)
	}
	client, err := o.Etcd.New(o.Logger.With("component", "etcd-client"))
	if err != nil {
		return r, err
	}
	defer client.Close()
	for _, rc := range cfg.Resources {
		e := entryReport{}
		var prefix string
		e.provider, e.key, prefix = Active(rc)
		for _, name := range rc.Resources {
			rr, err := count(ctx, client, o.EtcdPrefix, name, prefix)
			if err != nil {
				return r, err
			}
			e.resources = append(e.resources, rr)
		}
		r.entries = append(r.entries, e)
	}
	return r, nil
}

// count counts the objects of resource stored in etcd, and those whose
// value starts with prefix (those stored as they are when prefix is
// empty).
func count(ctx context.Context, client *clientv3.Client, etcdPrefix, resource, prefix string) (resourceReport, error) {
	rr := resourceReport{name: resource}
	if strings.Contains(resource, "*") {
		rr.skipped = "wildcard: not counted"
		return rr, nil
	}
	gr := schema.ParseGroupResource(resource)
	key := strings.TrimSuffix(etcdPrefix, "/") + "/" + gr.Resource + "/"
	err := scan(ctx, client, key, func(value []byte) {
		rr.total++
		if (prefix == "" && StoredUnder(value) == Identity) || (prefix != "" && bytes.HasPrefix(value, []byte(prefix))) {
			rr.underActive++
		}
	})
	return rr, err
}

// scan calls f with the value of every key under prefix, a page at a time.
func scan(ctx context.Context, client *clientv3.Client, prefix string, f func(value []byte)) error {
	end := clientv3.GetPrefixRangeEnd(prefix)
	from := prefix
	for {
		resp, err := client.Get(ctx, from, clientv3.WithRange(end), clientv3.WithLimit(500))
		if err != nil {
			return fmt.Errorf("read %s from etcd: %w", prefix, err)
		}
		for _, kv := range resp.Kvs {
			f(kv.Value)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

func (r report) print(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	enabled := "Disabled"
	for _, e := range r.entries {
		if e.provider != Identity {
			enabled = "Enabled"
		}
	}
	fmt.Fprintf(w, "Encryption Status: %s\n", enabled)
	fmt.Fprintf(w, "Encryption Config: %s\n", r.path)
	switch {
	case r.serverErr != nil:
		fmt.Fprintf(w, "Server Config: unknown (%v)\n", r.serverErr)
	case r.reloaded:
		fmt.Fprintln(w, "Server Config: current (the server runs the file as it is)")
	default:
		fmt.Fprintln(w, "Server Config: not reloaded yet (the server reads the file within a minute)")
	}
	for _, e := range r.entries {
		active := e.provider
		if e.key != "" {
			active += " " + e.key
		}
		fmt.Fprintf(w, "Active Key: %s\n", active)
	}
	fmt.Fprintln(w, "\nRESOURCE\tOBJECTS\tUNDER ACTIVE KEY")
	for _, e := range r.entries {
		for _, rr := range e.resources {
			if rr.skipped != "" {
				fmt.Fprintf(w, "%s\t<%s>\t\n", rr.name, rr.skipped)
				continue
			}
			fmt.Fprintf(w, "%s\t%d\t%d\n", rr.name, rr.total, rr.underActive)
		}
	}
	return w.Flush()
}

// allUnderActive reports whether every counted object is stored under its
// entry's active key.
func (r report) allUnderActive() bool {
	for _, e := range r.entries {
		for _, rr := range e.resources {
			if rr.underActive != rr.total {
				return false
			}
		}
	}
	return true
}

// lastConfigInfo is the API server's metric naming the hash of the
// encryption configuration it runs.
const lastConfigInfo = "apiserver_encryption_config_controller_last_config_info"

// serverRuns reports whether the API server runs the configuration at path
// as it is now: its metric lastConfigInfo carries the file's hash.
func serverRuns(ctx context.Context, restCfg *rest.Config, path string) (bool, error) {
	want, err := encryptionconfig.GetEncryptionConfigHash(path)
	if err != nil {
		return false, err
	}
	client, err := discovery.NewDiscoveryClientForConfig(restCfg)
	if err != nil {
		return false, err
	}
	body, err := client.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return false, fmt.Errorf("read the server's metrics: %w", err)
	}
	return slices.Contains(configHashes(string(body)), want), nil
}

// configHashes are the hash labels of lastConfigInfo in a Prometheus text
// exposition.
func configHashes(text string) []string {
	var hashes []string
	for line := range strings.Lines(text) {
		rest, ok := strings.CutPrefix(line, lastConfigInfo+"{")
		if !ok {
			continue
		}
		labels, _, _ := strings.Cut(rest, "}")
		for label := range strings.SplitSeq(labels, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(label), `hash="`); ok {
				hashes = append(hashes, strings.TrimSuffix(v, `"`))
			}
		}
	}
	return hashes
}

// activeKeys names the active key of every entry whose first provider
// holds keys.
func activeKeys(cfg *apiserverv1.EncryptionConfiguration) []string {
	var names []string
	for _, rc := range cfg.Resources {
		if _, key, _ := Active(rc); key != "" {
			names = append(names, key)
		}
	}
	return names
}
