package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// criNamespace is the containerd namespace the CRI plugin keeps its images
// and containers in.
const criNamespace = "k8s.io"

// ImportImages imports docker-archive (or OCI layout) tarballs into the
// containerd listening on socket (a path, or a unix:// URL), in the CRI
// plugin's namespace, with the ctr tool that comes with containerd. The
// error of a failed import carries ctr's message.
func ImportImages(ctx context.Context, socket string, files ...string) error {
	ctr, err := exec.LookPath("ctr")
	if err != nil {
		return errors.New("ctr (containerd's client) is not installed")
	}
	socket = strings.TrimPrefix(socket, "unix://")
	for _, file := range files {
		cmd := exec.CommandContext(ctx, ctr, "--address", socket, "-n", criNamespace, "images", "import", file)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if msg == "" {
				return fmt.Errorf("import image %s: %w", file, err)
			}
			return fmt.Errorf("import image %s: %w: %s", file, err, msg)
		}
	}
	return nil
}
