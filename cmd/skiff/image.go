package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/distribution/reference"
	"github.com/spf13/cobra"

	"skiff.dev/skiff/internal/agent/runtime/containerd"
	"skiff.dev/skiff/internal/image"
)

// errNoImageStore says the node has no containerd to load images into.
var errNoImageStore = errors.New("the process runtime has no image store; images are used by --runtime=cri")

// importFunc imports image tarballs into the containerd at socket.
type importFunc func(ctx context.Context, socket string, files ...string) error

func newImageCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage the container images of this machine's node",
	}
	var dataDir, criSocket string
	load := &cobra.Command{
		Use:   "load FILE...",
		Short: "Import docker-archive or OCI image tarballs into the node's container runtime (--runtime=cri)",
		Long: "Import docker-archive (docker save, make images) or OCI image tarballs into the containerd of the\n" +
			"node whose --data-dir is given (its socket is DIR/containerd/containerd.sock), or into the containerd\n" +
			"at --cri-socket. A node on the process runtime has no image store.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			return loadImages(cmd.Context(), cmd.OutOrStdout(), dataDir, criSocket, files, containerd.ImportImages)
		},
	}
	f := load.Flags()
	f.StringVar(&dataDir, "data-dir", "/var/lib/skiff-agent", "data directory of the node (an agent's --data-dir, or a server's --data-dir for its own node)")
	f.StringVar(&criSocket, "cri-socket", "", "containerd socket to import into instead of the node's own")
	cmd.AddCommand(load)
	return cmd
}

// loadImages checks every file names an image, imports them one by one and
// prints "loaded IMAGE" for each image.
func loadImages(ctx context.Context, out io.Writer, dataDir, criSocket string, files []string, importImages importFunc) error {
	socket := criSocket
	if socket == "" {
		var err error
		if socket, err = nodeSocket(dataDir); err != nil {
			return err
		}
	}
	tags := make([][]string, len(files))
	for i, file := range files {
		var err error
		if tags[i], err = image.Tags(file); err != nil {
			return err
		}
	}
	for i, file := range files {
		if err := importImages(ctx, socket, file); err != nil {
			return err
		}
		for _, tag := range tags[i] {
			fmt.Fprintf(out, "loaded %s\n", fullName(tag))
		}
	}
	return nil
}

// nodeSocket finds the socket of the containerd the agent runs for the node
// of dataDir: DIR/containerd/containerd.sock, or DIR/agent/... when DIR is
// a server's data directory.
func nodeSocket(dataDir string) (string, error) {
	candidates := []string{
		containerd.SocketPath(filepath.Join(dataDir, "containerd")),
		containerd.SocketPath(filepath.Join(dataDir, "agent", "containerd")),
	}
	for _, s := range candidates {
		if fi, err := os.Stat(s); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return s, nil
		}
	}
	return "", fmt.Errorf("no containerd socket at %s: %w", candidates[0], errNoImageStore)
}

// fullName spells an image name as containerd stores it
// (busybox:1.36 -> docker.io/library/busybox:1.36).
func fullName(tag string) string {
	if named, err := reference.ParseNormalizedNamed(tag); err == nil {
		return named.String()
	}
	return tag
}
