package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"skiff.dev/skiff/internal/encryption"
	"skiff.dev/skiff/internal/server/api"
)

// secretsEncryptFlags are the flags of `skiff secrets-encrypt`'s
// subcommands: where the server keeps its files and its etcd.
type secretsEncryptFlags struct {
	dataDir string
	opts    encryption.Options
}

func (s *secretsEncryptFlags) add(f *pflag.FlagSet) {
	f.StringVar(&s.dataDir, "data-dir", "/var/lib/skiff", "the server's data directory")
	f.StringVar(&s.opts.Kubeconfig, "kubeconfig", "", "administrator's kubeconfig (default: <data-dir>/kubeconfig.yaml)")
	f.StringVar(&s.opts.ConfigPath, "encryption-provider-config", "", "the server's --encryption-provider-config (default: <data-dir>/encryption-config.yaml)")
	addEtcdFlags(f, &s.opts.Etcd, "the server's --etcd-endpoints (default: its embedded etcd)")
}

// options fills what the flags left empty from the data dir.
func (s *secretsEncryptFlags) options(cmd *cobra.Command, log *slog.Logger) (encryption.Options, error) {
	o := s.opts
	o.Out, o.Logger = cmd.OutOrStdout(), log
	if o.Kubeconfig == "" {
		o.Kubeconfig = api.KubeconfigPath(s.dataDir)
	}
	if o.ConfigPath == "" {
		o.ConfigPath = encryption.ConfigPath(s.dataDir)
	}
	if len(o.Etcd.Endpoints) == 0 {
		embedded, err := api.EmbeddedEtcd(s.dataDir)
		if err != nil {
			return o, err
		}
		o.Etcd = embedded
	}
	return o, nil
}

// newSecretsEncryptCommand is `skiff secrets-encrypt status|rotate`, run
// on a server's machine.
func newSecretsEncryptCommand(log *slog.Logger) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets-encrypt",
		Short: "Show or rotate the key Secrets are encrypted with in etcd (run on the server's machine)",
	}
	sub := func(use, short string, run func(context.Context, encryption.Options) error) *cobra.Command {
		var flags secretsEncryptFlags
		c := &cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				o, err := flags.options(cmd, log)
				if err != nil {
					return err
				}
				return run(cmd.Context(), o)
			},
		}
		flags.add(c.Flags())
		return c
	}
	cmd.AddCommand(
		sub("status", "Show whether encryption is on, the active key and how many objects are stored under it", encryption.Status),
		sub("rotate", "Encrypt every Secret under a new key and retire the old one, with the server running", encryption.Rotate),
	)
	return cmd
}
