package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// curl's exit statuses that the suite tells apart.
const (
	curlOK             = 0
	curlUsage          = 2
	curlCantResolve    = 6
	curlCantConnect    = 7
	curlTimeout        = 28
	curlWriteError     = 23
	curlOtherError     = 56 // failure receiving network data
	curlMalformedURL   = 3
	curlUnsupportedURL = 1
)

// curlOptions are the parsed options of one curl command line.
type curlOptions struct {
	URL            string
	Silent         bool // -s: no progress or error messages
	ShowError      bool // -S: error messages even with -s
	Include        bool // -i: the status line and headers before the body
	Output         string
	WriteOut       string
	Method         string
	Headers        []string
	Data           string
	Fail           bool // -f: exit 22 on an HTTP status >= 400
	MaxTime        time.Duration
	ConnectTimeout time.Duration
	Interface      string
}

// parseCurl parses curl's arguments: the options the e2e suite uses and a
// URL (http:// when it has no scheme).
func parseCurl(args []string) (curlOptions, error) {
	var o curlOptions
	value := func(i *int, flag string) (string, error) {
		if *i+1 >= len(args) {
			return "", fmt.Errorf("option %s: requires parameter", flag)
		}
		*i++
		return args[*i], nil
	}
	seconds := func(i *int, flag string) (time.Duration, error) {
		v, err := value(i, flag)
		if err != nil {
			return 0, err
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("option %s: expected a proper numerical parameter", flag)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") && strings.HasPrefix(a, "-") && combinedFlags(a[1:], "gqsSif") {
			for _, c := range a[1:] {
				setCurlFlag(&o, c)
			}
			continue
		}
		var err error
		switch a {
		case "--globoff", "--disable":
		case "--silent":
			o.Silent = true
		case "--show-error":
			o.ShowError = true
		case "--include":
			o.Include = true
		case "--fail":
			o.Fail = true
		case "-o", "--output":
			o.Output, err = value(&i, a)
		case "-w", "--write-out":
			o.WriteOut, err = value(&i, a)
		case "-X", "--request":
			o.Method, err = value(&i, a)
		case "-H", "--header":
			var h string
			h, err = value(&i, a)
			o.Headers = append(o.Headers, h)
		case "-d", "--data":
			o.Data, err = value(&i, a)
		case "-m", "--max-time":
			o.MaxTime, err = seconds(&i, a)
		case "--connect-timeout":
			o.ConnectTimeout, err = seconds(&i, a)
		case "--interface":
			o.Interface, err = value(&i, a)
		default:
			if strings.HasPrefix(a, "-") && len(a) > 1 {
				return o, fmt.Errorf("option %s: is unknown", a)
			}
			if o.URL != "" {
				return o, fmt.Errorf("only one URL is supported, got %q and %q", o.URL, a)
			}
			o.URL = a
		}
		if err != nil {
			return o, err
		}
	}
	if o.URL == "" {
		return o, errors.New("no URL specified")
	}
	if !strings.Contains(o.URL, "://") {
		o.URL = "http://" + o.URL
	}
	if o.Method == "" {
		o.Method = http.MethodGet
		if o.Data != "" {
			o.Method = http.MethodPost
		}
	}
	return o, nil
}

// combinedFlags reports whether every letter of s is one of the boolean
// short flags in allowed (as in -qs).
func combinedFlags(s, allowed string) bool {
	for _, c := range s {
		if !strings.ContainsRune(allowed, c) {
			return false
		}
	}
	return s != ""
}

// setCurlFlag sets the option of one boolean short flag (-g and -q change
// nothing here: no globbing, no .curlrc).
func setCurlFlag(o *curlOptions, flag rune) {
	switch flag {
	case 's':
		o.Silent = true
	case 'S':
		o.ShowError = true
	case 'i':
		o.Include = true
	case 'f':
		o.Fail = true
	}
}

func curlMain(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o, err := parseCurl(args)
	if err != nil {
		fmt.Fprintf(stderr, "curl: %v\n", err)
		return curlUsage
	}
	fail := func(code int, err error) int {
		if !o.Silent || o.ShowError {
			fmt.Fprintf(stderr, "curl: (%d) %v\n", code, err)
		}
		writeOut(stdout, o.WriteOut, 0)
		return code
	}
	if o.MaxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.MaxTime)
		defer cancel()
	}
	dialer := &net.Dialer{Timeout: o.ConnectTimeout}
	if o.Interface != "" {
		local, err := localAddr(o.Interface)
		if err != nil {
			return fail(45, err)
		}
		dialer.LocalAddr = &net.TCPAddr{IP: local}
	}
	client := &http.Client{
		Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true},
		// curl follows no redirect without -L.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var body io.Reader
	if o.Data != "" {
		body = strings.NewReader(o.Data)
	}
	req, err := http.NewRequestWithContext(ctx, o.Method, o.URL, body)
	if err != nil {
		return fail(curlMalformedURL, err)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fail(curlUnsupportedURL, fmt.Errorf("protocol %q not supported", req.URL.Scheme))
	}
	req.Header.Set("User-Agent", "curl/8 (skiff nettools)")
	req.Header.Set("Accept", "*/*")
	if o.Data != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range o.Headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail(curlErrorCode(err), err)
	}
	defer resp.Body.Close()
	out := stdout
	if o.Output != "" && o.Output != "-" {
		f, err := os.Create(o.Output)
		if err != nil {
			return fail(curlWriteError, err)
		}
		defer f.Close()
		out = f
	}
	if o.Include {
		fmt.Fprintf(out, "HTTP/%d.%d %s\r\n", resp.ProtoMajor, resp.ProtoMinor, resp.Status)
		_ = resp.Header.Write(out)
		fmt.Fprint(out, "\r\n")
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		return fail(curlErrorCode(err), err)
	}
	writeOut(stdout, o.WriteOut, resp.StatusCode)
	if o.Fail && resp.StatusCode >= 400 {
		return 22
	}
	return curlOK
}

// curlErrorCode maps a request error to curl's exit status.
func curlErrorCode(err error) int {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var urlErr *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &urlErr) && urlErr.Timeout():
		return curlTimeout
	case errors.As(err, &dnsErr):
		return curlCantResolve
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return curlCantConnect
	}
	return curlOtherError
}

// writeOut prints curl's --write-out format with %{http_code} (000 when no
// response came) and the \n, \r, \t escapes.
func writeOut(w io.Writer, format string, code int) {
	if format == "" {
		return
	}
	r := strings.NewReplacer(`%{http_code}`, fmt.Sprintf("%03d", code), `%{response_code}`, fmt.Sprintf("%03d", code),
		`\n`, "\n", `\r`, "\r", `\t`, "\t")
	fmt.Fprint(w, r.Replace(format))
}

// localAddr returns the address --interface names: an IP address, or the
// first address of a network interface.
func localAddr(name string) (net.IP, error) {
	if ip := net.ParseIP(name); ip != nil {
		return ip, nil
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("interface %s has no address", name)
	}
	ipnet, ok := addrs[0].(*net.IPNet)
	if !ok {
		return nil, fmt.Errorf("interface %s has no IP address", name)
	}
	return ipnet.IP, nil
}
