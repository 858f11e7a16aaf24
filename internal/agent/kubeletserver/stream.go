package kubeletserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/proxy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// exec serves /exec/{namespace}/{pod}[/{uid}]/{container}?command=...
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	s.remoteCommand(w, r, "exec", func(ctx context.Context, id string, o *remotecommand.Options) (string, error) {
		resp, err := s.cfg.Runtime.Exec(ctx, &runtimeapi.ExecRequest{
			ContainerId: id, Cmd: r.URL.Query()["command"],
			Tty: o.TTY, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr,
		})
		if err != nil {
			return "", err
		}
		return resp.Url, nil
	})
}

// attach serves /attach/{namespace}/{pod}[/{uid}]/{container}.
func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	s.remoteCommand(w, r, "attach", func(ctx context.Context, id string, o *remotecommand.Options) (string, error) {
		resp, err := s.cfg.Runtime.Attach(ctx, &runtimeapi.AttachRequest{
			ContainerId: id,
			Tty:         o.TTY, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr,
		})
		if err != nil {
			return "", err
		}
		return resp.Url, nil
	})
}

// remoteCommand serves exec and attach: it reads the stream options, finds
// the container, asks the runtime for its streaming URL with streamURL and
// proxies the caller there.
func (s *Server) remoteCommand(w http.ResponseWriter, r *http.Request, verb string,
	streamURL func(ctx context.Context, containerID string, opts *remotecommand.Options) (string, error)) {
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		writeStatus(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	ref, err := s.cfg.Pods.Container(r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container"), false)
	if err != nil {
		writeStatus(w, err)
		return
	}
	u, err := streamURL(r.Context(), ref.ID, opts)
	if err != nil {
		writeStatus(w, runtimeError(verb, err))
		return
	}
	s.proxy(w, r, u)
}

// portForward serves /portForward/{namespace}/{pod}[/{uid}]. SPDY callers
// name the port in each stream's headers; WebSocket callers in ?port=.
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		writeStatus(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	sandbox, err := s.cfg.Pods.Sandbox(r.PathValue("namespace"), r.PathValue("pod"))
	if err != nil {
		writeStatus(w, err)
		return
	}
	resp, err := s.cfg.Runtime.PortForward(r.Context(), &runtimeapi.PortForwardRequest{PodSandboxId: sandbox, Port: opts.Ports})
	if err != nil {
		writeStatus(w, runtimeError("port-forward", err))
		return
	}
	s.proxy(w, r, resp.Url)
}

// proxy hands the caller's upgrade request to the runtime's streaming
// server at rawURL.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, rawURL string) {
	u, err := url.Parse(rawURL)
	if err != nil {
		writeStatus(w, fmt.Errorf("runtime returned a bad streaming URL %q: %w", rawURL, err))
		return
	}
	h := proxy.NewUpgradeAwareHandler(u, nil, false, true, responder{s})
	h.ServeHTTP(w, r)
}

type responder struct{ s *Server }

func (rs responder) Error(w http.ResponseWriter, r *http.Request, err error) {
	rs.s.log.Warn("kubelet server: proxying stream", "path", r.URL.Path, "err", err)
	writeStatus(w, fmt.Errorf("proxy to the runtime's streaming server: %w", err))
}

// runtimeError keeps a runtime's gRPC NotFound and InvalidArgument as 404
// and 400.
func runtimeError(op string, err error) error {
	if st, ok := grpcstatus.FromError(err); ok {
		msg := fmt.Sprintf("%s: %s", op, st.Message())
		switch st.Code() {
		case codes.NotFound:
			return &apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound, Message: msg,
			}}
		case codes.InvalidArgument:
			return apierrors.NewBadRequest(msg)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}
