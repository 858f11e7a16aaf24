// Command fetch is the small static HTTP and DNS client of skiff's images:
// tests run it inside pods to reach Services by name, by ClusterIP and by
// NodePort, and to look names up in the cluster DNS. It resolves names with
// Go's own resolver (from the pod's /etc/resolv.conf), so it needs no libc.
//
//	fetch get [-n N] [-cacert F] URL       GET URL N times; with N = 1 print the body,
//	                                        else one JSON line: {"ok":..,"errors":..,"servedBy":{host:count}}
//	fetch lookup [-type A|SRV|CNAME] NAME  print the answers one per line; exit 3 on NXDOMAIN
//	fetch pods [-n NS] [-every D]          list the pods of NS (default: the pod's own) with
//	                                        client-go's in-cluster configuration (the pod's
//	                                        service account token); with -every, again every D,
//	                                        one line each, until killed
//
// The model server names the pod that answered in its X-Served-By header.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sync"
	"time"
)

// Exit codes: 1 a request or lookup failed, 2 bad usage, 3 no such name.
const (
	exitFailed   = 1
	exitUsage    = 2
	exitNotFound = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: fetch get [-n N] URL | fetch lookup [-type A|SRV|CNAME] NAME | fetch pods [-n NS] [-every D]")
		return exitUsage
	}
	switch args[0] {
	case "get":
		return get(args[1:], stdout, stderr)
	case "lookup":
		return lookup(args[1:], stdout, stderr)
	case "pods":
		return pods(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "fetch: unknown command %q (want get, lookup or pods)\n", args[0])
	return exitUsage
}

// tally is what `get -n N` prints.
type tally struct {
	OK       int            `json:"ok"`
	Errors   int            `json:"errors"`
	ServedBy map[string]int `json:"servedBy"`
	LastErr  string         `json:"lastError,omitempty"`
}

func get(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1, "number of requests")
	// Longer than a resolver's 5 s wait before it asks again: one lost DNS
	// datagram makes a request slow, as it would for any client, not a failure.
	timeout := fs.Duration("timeout", 15*time.Second, "timeout of each request")
	caFile := fs.String("cacert", "", "verify https servers against the CA certificates of this PEM file (default: no verification, the image has no CA bundle)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 || *n < 1 {
		fmt.Fprintln(stderr, "usage: fetch get [-n N] [-timeout D] URL")
		return exitUsage
	}
	url := fs.Arg(0)
	tlsConfig := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only without -cacert, see its help
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintln(stderr, "fetch:", err)
			return exitUsage
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(stderr, "fetch: no certificate in %s\n", *caFile)
			return exitUsage
		}
		tlsConfig = &tls.Config{RootCAs: pool}
	}
	// A new connection per request, as separate clients would open: the
	// service proxy balances connections, not requests.
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: tlsConfig}}
	if *n == 1 {
		resp, err := client.Get(url)
		if err != nil {
			fmt.Fprintln(stderr, "fetch:", err)
			return exitFailed
		}
		defer resp.Body.Close()
		if _, err := io.Copy(stdout, resp.Body); err != nil {
			fmt.Fprintln(stderr, "fetch:", err)
			return exitFailed
		}
		if resp.StatusCode >= 400 {
			fmt.Fprintln(stderr, "fetch:", resp.Status)
			return exitFailed
		}
		return 0
	}
	t := tally{ServedBy: map[string]int{}}
	for range *n {
		by, err := once(client, url)
		if err != nil {
			t.Errors++
			t.LastErr = err.Error()
			continue
		}
		t.OK++
		t.ServedBy[by]++
	}
	if err := json.NewEncoder(stdout).Encode(t); err != nil {
		return exitFailed
	}
	if t.Errors > 0 {
		return exitFailed
	}
	return 0
}

// once makes one request and returns who served it. A failed request's
// error names the phase it stopped in (lookup, connect or response), so a
// test that sees one knows where to look.
func once(client *http.Client, url string) (string, error) {
	var ph phases
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), ph.trace()), http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s after %s: %w", ph.at(), time.Since(start).Round(time.Millisecond), err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "", err
	}
	if resp.StatusCode >= 400 {
		return "", errors.New(resp.Status)
	}
	return resp.Header.Get("X-Served-By"), nil
}

// phases records how far one request got.
type phases struct {
	mu    sync.Mutex
	stage string
}

func (p *phases) set(stage string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stage = stage
}

func (p *phases) trace() *httptrace.ClientTrace {
	p.set("getting a connection")
	return &httptrace.ClientTrace{
		DNSStart:     func(httptrace.DNSStartInfo) { p.set("looking the name up") },
		ConnectStart: func(_, _ string) { p.set("connecting") },
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				p.set("writing the request")
			}
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { p.set("awaiting the response") },
	}
}

// at names the phase a request stopped in.
func (p *phases) at() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stage
}

func lookup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lookup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	typ := fs.String("type", "A", "record type: A (addresses), SRV or CNAME")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: fetch lookup [-type A|SRV|CNAME] NAME")
		return exitUsage
	}
	name := fs.Arg(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := &net.Resolver{PreferGo: true}
	var (
		answers []string
		err     error
	)
	switch *typ {
	case "A":
		answers, err = r.LookupHost(ctx, name)
	case "CNAME":
		var c string
		c, err = r.LookupCNAME(ctx, name)
		answers = []string{c}
	case "SRV":
		var srvs []*net.SRV
		_, srvs, err = r.LookupSRV(ctx, "", "", name)
		for _, s := range srvs {
			answers = append(answers, fmt.Sprintf("%s %d %d %d", s.Target, s.Port, s.Priority, s.Weight))
		}
	default:
		fmt.Fprintf(stderr, "fetch: record type %q: want A, SRV or CNAME\n", *typ)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, "fetch:", err)
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return exitNotFound
		}
		return exitFailed
	}
	for _, a := range answers {
		fmt.Fprintln(stdout, a)
	}
	return 0
}
