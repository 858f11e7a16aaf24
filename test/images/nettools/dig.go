package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// digOptions are the parsed options of one dig command line.
type digOptions struct {
	Name    string
	Type    uint16
	Server  string // @server; the resolv.conf servers when empty
	Port    string // -p; 53 when empty
	TCP     bool
	Search  bool
	Short   bool
	NoAll   bool // +noall: print no section unless asked
	Answer  bool // +answer (on unless +noall)
	Timeout time.Duration
	Tries   int
}

// parseDig parses dig's arguments: +[no]tcp, +[no]vc, +[no]search, +short,
// +noall, +[no]answer, +time=N, +tries=N, +retry=N, @SERVER, -p PORT,
// -x ADDR, -t TYPE, NAME and TYPE (class IN).
func parseDig(args []string) (digOptions, error) {
	o := digOptions{Type: dns.TypeA, Answer: true, Timeout: 5 * time.Second, Tries: 3}
	typeSet := false
	number := func(v, opt string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid %s '%s'", opt, v)
		}
		return n, nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "+"):
			opt, val, _ := strings.Cut(a[1:], "=")
			var err error
			switch opt {
			case "tcp", "vc":
				o.TCP = true
			case "notcp", "novc":
				o.TCP = false
			case "search":
				o.Search = true
			case "nosearch":
				o.Search = false
			case "short":
				o.Short = true
			case "noall":
				o.NoAll, o.Answer = true, false
			case "all":
				o.NoAll, o.Answer = false, true
			case "answer":
				o.Answer = true
			case "noanswer":
				o.Answer = false
			case "time":
				var n int
				n, err = number(val, "timeout")
				o.Timeout = time.Duration(max(n, 1)) * time.Second
			case "tries":
				o.Tries, err = number(val, "tries")
				o.Tries = max(o.Tries, 1)
			case "retry":
				var n int
				n, err = number(val, "retry")
				o.Tries = n + 1
			default:
				return o, fmt.Errorf("invalid option: %s", a)
			}
			if err != nil {
				return o, err
			}
		case strings.HasPrefix(a, "@"):
			o.Server = a[1:]
		case a == "-x" || a == "-t" || a == "-p":
			if i+1 >= len(args) {
				return o, fmt.Errorf("option %s needs an argument", a)
			}
			i++
			if a == "-p" {
				if _, err := number(args[i], "port number"); err != nil {
					return o, err
				}
				o.Port = args[i]
				continue
			}
			if a == "-t" {
				t, ok := dns.StringToType[strings.ToUpper(args[i])]
				if !ok {
					return o, fmt.Errorf("invalid type: %s", args[i])
				}
				o.Type, typeSet = t, true
				continue
			}
			rev, err := dns.ReverseAddr(args[i])
			if err != nil {
				return o, fmt.Errorf("invalid IP address %s", args[i])
			}
			o.Name, o.Type, typeSet = rev, dns.TypePTR, true
		case strings.HasPrefix(a, "-"):
			return o, fmt.Errorf("invalid option: %s", a)
		case strings.EqualFold(a, "IN"):
		default:
			if t, ok := dns.StringToType[strings.ToUpper(a)]; ok && o.Name != "" && !typeSet {
				o.Type, typeSet = t, true
				continue
			}
			if o.Name != "" {
				return o, fmt.Errorf("only one name is supported, got %q and %q", o.Name, a)
			}
			o.Name = a
		}
	}
	if o.Name == "" {
		o.Name = "."
		o.Type = dns.TypeNS
	}
	return o, nil
}

// digCandidates returns the names dig asks for, in order: with +search
// the resolv.conf search list applied as the resolver does (ndots), else
// the name alone.
func digCandidates(o digOptions, conf *dns.ClientConfig) []string {
	if !o.Search || dns.IsFqdn(o.Name) {
		return []string{dns.Fqdn(o.Name)}
	}
	return conf.NameList(o.Name)
}

// formatDig renders the response as dig prints it: with +short the data of
// each answer, one a line; with +noall +answer the answer records; else a
// header and the answer section.
func formatDig(o digOptions, resp *dns.Msg) string {
	var b strings.Builder
	switch {
	case o.Short:
		for _, rr := range resp.Answer {
			b.WriteString(strings.TrimPrefix(rr.String(), rr.Header().String()))
			b.WriteByte('\n')
		}
	case o.NoAll:
		if o.Answer {
			for _, rr := range resp.Answer {
				b.WriteString(rr.String())
				b.WriteByte('\n')
			}
		}
	default:
		fmt.Fprintf(&b, ";; ->>HEADER<<- opcode: %s, status: %s, id: %d\n", dns.OpcodeToString[resp.Opcode], dns.RcodeToString[resp.Rcode], resp.Id)
		fmt.Fprintf(&b, ";; QUERY: %d, ANSWER: %d, AUTHORITY: %d, ADDITIONAL: %d\n", len(resp.Question), len(resp.Answer), len(resp.Ns), len(resp.Extra))
		if o.Answer && len(resp.Answer) > 0 {
			b.WriteString("\n;; ANSWER SECTION:\n")
			for _, rr := range resp.Answer {
				b.WriteString(rr.String())
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// resolvConf is where dig finds its servers and search list.
var resolvConf = "/etc/resolv.conf"

func digMain(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o, err := parseDig(args)
	if err != nil {
		fmt.Fprintf(stderr, "dig: %v\n", err)
		return 1
	}
	conf, err := dns.ClientConfigFromFile(resolvConf)
	if err != nil {
		if o.Server == "" {
			fmt.Fprintf(stderr, "dig: %v\n", err)
			return 10
		}
		conf = &dns.ClientConfig{Ndots: 1}
	}
	port := conf.Port
	if o.Port != "" || port == "" {
		port = cmp.Or(o.Port, "53")
	}
	hosts := conf.Servers
	if o.Server != "" {
		hosts = []string{o.Server}
	}
	servers := make([]string, 0, len(hosts))
	for _, h := range hosts {
		servers = append(servers, net.JoinHostPort(h, port))
	}
	var last *dns.Msg
	for _, name := range digCandidates(o, conf) {
		resp, err := digExchange(ctx, o, servers, name)
		if err != nil {
			fmt.Fprintf(stderr, ";; communications error: %v\n", err)
			fmt.Fprintln(stdout, ";; no servers could be reached")
			return 9
		}
		last = resp
		if len(resp.Answer) > 0 {
			break
		}
	}
	fmt.Fprint(stdout, formatDig(o, last))
	return 0
}

// digExchange asks the servers in turn, each up to o.Tries times over UDP
// (once over TCP), and retries over TCP when a UDP answer is truncated.
func digExchange(ctx context.Context, o digOptions, servers []string, name string) (*dns.Msg, error) {
	msg := new(dns.Msg)
	msg.SetQuestion(name, o.Type)
	msg.RecursionDesired = true
	netw, tries := "udp", o.Tries
	if o.TCP {
		netw, tries = "tcp", 1
	}
	err := errors.New("no servers in " + resolvConf)
	for _, server := range servers {
		for range tries {
			c := &dns.Client{Net: netw, Timeout: o.Timeout}
			var resp *dns.Msg
			resp, _, err = c.ExchangeContext(ctx, msg, server)
			if err == nil && resp.Truncated && netw == "udp" {
				c.Net = "tcp"
				resp, _, err = c.ExchangeContext(ctx, msg, server)
			}
			if err == nil {
				return resp, nil
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
	}
	return nil, err
}
