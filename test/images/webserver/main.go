// Command webserver stands in for the nginx images of the Kubernetes e2e
// suite (registry.k8s.io/e2e-test-images/nginx): like nginx's default
// configuration it serves the files under /usr/share/nginx/html on port 80
// (index.html for a directory, 404 for a missing file), and it stops at
// once on SIGTERM, SIGINT or SIGQUIT (nginx's graceful stop) with status 0.
// The suite only needs a long-running container that answers HTTP on port
// 80; nothing of nginx's configuration language is here.
//
//	webserver [-port 80] [-root /usr/share/nginx/html]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	port := flag.Int("port", 80, "TCP port to serve on (all addresses)")
	root := flag.String("root", "/usr/share/nginx/html", "directory whose files are served")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	defer stop()
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "webserver:", err)
		os.Exit(1)
	}
	if err := serve(ctx, ln, *root); err != nil {
		fmt.Fprintln(os.Stderr, "webserver:", err)
		os.Exit(1)
	}
}

// serve answers HTTP on ln with the files under root until ctx ends, then
// closes the listener and waits up to 5 seconds for requests in flight.
func serve(ctx context.Context, ln net.Listener, root string) error {
	srv := &http.Server{Handler: handler(root), ReadHeaderTimeout: 10 * time.Second}
	slog.Info("serving", "addr", ln.Addr().String(), "root", root)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handler serves root's files with nginx's Server header.
func handler(root string) http.Handler {
	files := http.FileServer(http.Dir(root))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx (skiff e2e substitute)")
		files.ServeHTTP(w, r)
	})
}
