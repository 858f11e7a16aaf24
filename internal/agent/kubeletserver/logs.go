package kubeletserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-client/pkg/logs"
	"k8s.io/klog/v2"
)

// containerLogs serves GET /containerLogs/{namespace}/{pod}/{container}.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, name := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	q := r.URL.Query()
	opts, err := logOptions(q, time.Now())
	if err != nil {
		writeStatus(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	ref, err := s.cfg.Pods.Container(ns, pod, name, boolParam(q, "previous"))
	if err != nil {
		writeStatus(w, err)
		return
	}
	stdout, stderr := io.Writer(nil), io.Writer(nil)
	out := &flushWriter{w: w}
	switch q.Get("stream") {
	case "", "All":
		stdout, stderr = out, out
	case "Stdout":
		stdout, stderr = out, io.Discard
	case "Stderr":
		stdout, stderr = io.Discard, out
	default:
		writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("invalid stream %q: must be All, Stdout or Stderr", q.Get("stream"))))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	if _, err := os.Stat(ref.LogPath); errors.Is(err, os.ErrNotExist) {
		// Created but never started: no output yet.
		w.WriteHeader(http.StatusOK)
		return
	}
	ctx := klog.NewContext(r.Context(), logr.FromSlogHandler(s.log.Handler()))
	err = logs.ReadLogs(ctx, ref.LogPath, ref.ID, opts, statusOnly{rt: s.cfg.Runtime}, stdout, stderr)
	switch {
	case err == nil:
		if !out.wrote {
			w.WriteHeader(http.StatusOK)
		}
	case r.Context().Err() != nil:
		// The caller went away while following.
	case !out.wrote:
		writeStatus(w, fmt.Errorf("read logs of container %q in pod %q: %w", name, pod, err))
	default:
		s.log.Warn("kubelet server: reading container logs", "pod", ns+"/"+pod, "container", name, "err", err)
	}
}

// logOptions reads the query of a log request as the kubelet reads
// PodLogOptions.
func logOptions(q url.Values, now time.Time) (*logs.LogOptions, error) {
	opts := &logs.LogOptions{Follow: boolParam(q, "follow"), Timestamp: boolParam(q, "timestamps")}
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("tailLines: Invalid value: %q: must be greater than or equal to 0", v)
		}
		opts.TailLines = &n
	}
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("limitBytes: Invalid value: %q: must be greater than 0", v)
		}
		opts.LimitBytes = &n
	}
	since, sinceTime := q.Get("sinceSeconds"), q.Get("sinceTime")
	if since != "" && sinceTime != "" {
		return nil, errors.New("at most one of `sinceTime` or `sinceSeconds` may be specified")
	}
	if since != "" {
		n, err := strconv.ParseInt(since, 10, 64)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("sinceSeconds: Invalid value: %q: must be greater than 0", since)
		}
		opts.Since = now.Add(-time.Duration(n) * time.Second)
	}
	if sinceTime != "" {
		t, err := time.Parse(time.RFC3339, sinceTime)
		if err != nil {
			return nil, fmt.Errorf("sinceTime: Invalid value: %q: %w", sinceTime, err)
		}
		opts.Since = t
	}
	return opts, nil
}

// boolParam reads a boolean query parameter as Kubernetes does: present and
// not "false" or "0" is true.
func boolParam(q url.Values, name string) bool {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return false
	}
	return v[0] != "0" && !strings.EqualFold(v[0], "false")
}

// flushWriter sends every write to the client at once, so followed logs
// arrive as they are written.
type flushWriter struct {
	w     http.ResponseWriter
	wrote bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	f.wrote = true
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

// statusOnly gives cri-client's log reader the one RuntimeService method it
// calls (ContainerStatus, to stop following when the container exits); the
// others are left nil and are never called.
type statusOnly struct {
	internalapi.RuntimeService
	rt Runtime
}

func (s statusOnly) ContainerStatus(ctx context.Context, id string, verbose bool) (*runtimeapi.ContainerStatusResponse, error) {
	return s.rt.ContainerStatus(ctx, id, verbose)
}
