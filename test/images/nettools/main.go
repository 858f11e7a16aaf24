// Command nettools is a multi-call binary with the network clients the
// Kubernetes e2e suite runs inside its test images, where upstream's images
// have Alpine's or Debian's packages: curl, nc (netcat-openbsd), dig
// (bind-tools) and getent. Each applet takes the subset of the real tool's
// options that the suite's commands use (see hack/conformance/IMAGES.md) and
// fails on any other, so a new use shows up as an error rather than a wrong
// answer. Names are looked up with Go's resolver (the pod's /etc/hosts and
// /etc/resolv.conf), so the binary needs no libc.
//
// The applet is the name the binary is called by (a link named curl, nc, dig
// or getent), or the first argument: `nettools curl -s http://x/`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// applets maps each applet's name to its entry point; it returns the exit
// status.
var applets = map[string]func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int{
	"curl":   curlMain,
	"nc":     ncMain,
	"dig":    digMain,
	"getent": getentMain,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, filepath.Base(os.Args[0]), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if _, ok := applets[name]; !ok && len(args) > 0 {
		name, args = args[0], args[1:]
	}
	applet, ok := applets[name]
	if !ok {
		fmt.Fprintln(stderr, "usage: nettools curl|nc|dig|getent ARGS... (or call it by a link of that name)")
		return 1
	}
	return applet(ctx, args, stdin, stdout, stderr)
}
