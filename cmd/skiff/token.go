package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"skiff.dev/skiff/internal/join"
	"skiff.dev/skiff/internal/server/api"
)

// tokenFlags are the flags of `skiff token`'s subcommands: the cluster an
// administrator reaches.
type tokenFlags struct {
	dataDir, kubeconfig string
}

func (t *tokenFlags) add(f *pflag.FlagSet) {
	f.StringVar(&t.dataDir, "data-dir", "/var/lib/skiff", "the server's data directory")
	f.StringVar(&t.kubeconfig, "kubeconfig", "", "administrator's kubeconfig (default: <data-dir>/kubeconfig.yaml)")
}

// client is a clientset of the kubeconfig and the hash of its CA, which
// join tokens carry.
func (t *tokenFlags) client() (kubernetes.Interface, string, error) {
	path := t.kubeconfig
	if path == "" {
		path = api.KubeconfigPath(t.dataDir)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, "", err
	}
	hash, err := join.CAHash(cfg)
	if err != nil {
		return nil, "", err
	}
	c, err := kubernetes.NewForConfig(cfg)
	return c, hash, err
}

// newTokenCommand is `skiff token create|list|delete`: extra join tokens,
// stored as Kubernetes bootstrap tokens.
func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and delete extra join tokens (bootstrap tokens) that agents join with",
	}
	var (
		create  tokenFlags
		req     join.TokenRequest
		list    tokenFlags
		deleted tokenFlags
	)
	createCmd := &cobra.Command{
		Use: "create", Short: "Create a join token and print it (skiff agent --token TOKEN)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, hash, err := create.client()
			if err != nil {
				return err
			}
			t, err := join.CreateToken(cmd.Context(), client, hash, req, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), t.String())
			return nil
		},
	}
	create.add(createCmd.Flags())
	createCmd.Flags().DurationVar(&req.TTL, "ttl", 24*time.Hour, "how long the token lets agents join (0: it never expires)")
	createCmd.Flags().StringVar(&req.Description, "description", "", "what the token is for")
	createCmd.Flags().StringSliceVar(&req.Groups, "groups", nil, "extra groups (system:bootstrappers:...) the token authenticates in")

	listCmd := &cobra.Command{
		Use: "list", Short: "List the join tokens created with skiff token create", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, hash, err := list.client()
			if err != nil {
				return err
			}
			return join.ListTokens(cmd.Context(), client, hash, time.Now(), cmd.OutOrStdout())
		},
	}
	list.add(listCmd.Flags())

	deleteCmd := &cobra.Command{
		Use: "delete TOKEN|ID...", Short: "Delete join tokens: agents can no longer join with them", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, _, err := deleted.client()
			if err != nil {
				return err
			}
			for _, a := range args {
				id, err := join.DeleteToken(cmd.Context(), client, a)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "bootstrap token %q deleted\n", id)
			}
			return nil
		},
	}
	deleted.add(deleteCmd.Flags())
	cmd.AddCommand(createCmd, listCmd, deleteCmd)
	return cmd
}
