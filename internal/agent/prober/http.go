package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// defaultTransport is the transport of HTTP probes when the Prober has no
// client: a fresh connection per probe, no proxy, no certificate checks.
var defaultTransport = sync.OnceValue(func() http.RoundTripper {
	return &http.Transport{
		Proxy:             nil,
		DialContext:       (&net.Dialer{}).DialContext,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as the kubelet: probes do not verify serving certificates
		DisableKeepAlives: true,
	}
})

// maxRedirects is how many redirects an HTTP probe follows.
const maxRedirects = 10

func (p *Prober) probeHTTP(ctx context.Context, pod *corev1.Pod, container *corev1.Container, action *corev1.HTTPGetAction, timeout time.Duration) (Result, string) {
	req, err := httpRequest(ctx, pod, container, action)
	if err != nil {
		return Unknown, err.Error()
	}
	client := &http.Client{Transport: defaultTransport()}
	if p.HTTPClient != nil {
		c := *p.HTTPClient
		client = &c
	}
	client.Timeout = timeout
	client.CheckRedirect = sameHostRedirects

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return Failure, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	if err != nil {
		return Failure, err.Error()
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		// A redirect to another host is not followed; the kubelet counts
		// it as a success with a warning.
		return Success, fmt.Sprintf("Probe terminated redirects, Response body: %s", body)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return Success, string(body)
	}
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

// sameHostRedirects follows redirects to the probed host only.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// httpRequest builds the GET of an httpGet probe.
func httpRequest(ctx context.Context, pod *corev1.Pod, container *corev1.Container, action *corev1.HTTPGetAction) (*http.Request, error) {
	scheme := strings.ToLower(string(action.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	host := action.Host
	if host == "" {
		host = pod.Status.PodIP
	}
	if host == "" {
		return nil, errors.New("pod has no IP address yet and the probe names no host")
	}
	port, err := containerPort(action.Port, container)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(action.Path)
	if err != nil { // pass an unparsable path on as it is, as the kubelet does
		u = &url.URL{Path: action.Path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	for _, h := range action.HTTPHeaders {
		header.Add(h.Name, h.Value)
	}
	if _, ok := header["User-Agent"]; !ok {
		header.Set("User-Agent", UserAgent)
	}
	if _, ok := header["Accept"]; !ok {
		header.Set("Accept", "*/*")
	} else if header.Get("Accept") == "" {
		header.Del("Accept")
	}
	req.Header = header
	req.Host = header.Get("Host")
	return req, nil
}
