package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/internal/wellknown"
)

// DefaultResolvConf is where the upstream servers are read by default.
const DefaultResolvConf = "/etc/resolv.conf"

// Config configures a Server.
type Config struct {
	// Client reads Services and EndpointSlices.
	Client kubernetes.Interface
	// ListenAddr is the ip:port the server listens on, UDP and TCP; port 0
	// picks a free port (Server.Addr tells which). Default 127.0.0.1:53.
	ListenAddr string
	// Domain is the cluster domain (default wellknown.ClusterDomain).
	Domain string
	// ResolvConf is the resolv.conf whose nameservers answer the names
	// outside the cluster domain (default DefaultResolvConf). Nameservers
	// that are this server itself are skipped.
	ResolvConf string
	// Upstreams, when set, are the upstream servers (host:port) instead of
	// ResolvConf's.
	Upstreams []string
	// TTL of the records, in seconds (default DefaultTTL).
	TTL uint32
	// ForwardTimeout bounds one upstream exchange (default 2s).
	ForwardTimeout time.Duration
	Logger         *slog.Logger
}

// Server answers DNS over UDP and TCP on one address.
type Server struct {
	cfg      Config
	resolver *Resolver
	addr     netip.AddrPort
	udp      net.PacketConn
	tcp      net.Listener

	mu        sync.RWMutex
	store     Store
	upstreams []string // host:port
	closeOnce sync.Once
}

// New checks cfg and binds the server's UDP and TCP sockets; Run serves
// them. A Server that is never Run must be Closed.
func New(cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("dns: no client")
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:53"
	}
	if cfg.Domain == "" {
		cfg.Domain = wellknown.ClusterDomain
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = DefaultResolvConf
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	udp, tcp, err := listen(cfg.ListenAddr)
	if err != nil {
		return nil, err
	}
	addr := udp.LocalAddr().(*net.UDPAddr).AddrPort()
	return &Server{
		cfg:      cfg,
		resolver: NewResolver(cfg.Domain, cfg.TTL),
		addr:     netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()),
		udp:      udp,
		tcp:      tcp,
	}, nil
}

// listen binds UDP and TCP on the same address and port; with port 0 it
// tries again when the port UDP got is taken for TCP.
func listen(address string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, nil, fmt.Errorf("dns listen address %q: %w", address, err)
	}
	for attempt := 0; ; attempt++ {
		udp, err := net.ListenPacket("udp", address)
		if err != nil {
			return nil, nil, fmt.Errorf("dns listen udp %s: %w", address, err)
		}
		bound := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(bound)))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if port != "0" || attempt >= 10 {
			return nil, nil, fmt.Errorf("dns listen tcp %s: %w", address, err)
		}
	}
}

// Addr is the address the server listens on (UDP and TCP).
func (s *Server) Addr() netip.AddrPort { return s.addr }

// Close releases the sockets of a server that is not running.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.udp.Close()
		s.tcp.Close()
	})
}

// Run reads the upstream servers, starts the Service and EndpointSlice
// informers and, once they have synced, answers queries until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	log := s.cfg.Logger
	upstreams := s.cfg.Upstreams
	if len(upstreams) == 0 {
		var err error
		if upstreams, err = readUpstreams(s.cfg.ResolvConf, s.addr); err != nil {
			log.Warn("cluster DNS: no upstream servers, names outside the cluster domain fail", "resolvConf", s.cfg.ResolvConf, "err", err)
		}
	}
	factory := informers.NewSharedInformerFactory(s.cfg.Client, 0)
	svcInf := factory.Core().V1().Services().Informer()
	sliceInf := factory.Discovery().V1().EndpointSlices().Informer()
	if err := svcInf.AddIndexers(ServiceIndexers()); err != nil {
		return fmt.Errorf("dns service indexers: %w", err)
	}
	if err := sliceInf.AddIndexers(EndpointSliceIndexers()); err != nil {
		return fmt.Errorf("dns endpointslice indexers: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), svcInf.HasSynced, sliceInf.HasSynced) {
		return nil
	}
	s.mu.Lock()
	s.store = IndexerStore{ServiceCache: svcInf.GetIndexer(), SliceCache: sliceInf.GetIndexer()}
	s.upstreams = upstreams
	s.mu.Unlock()
	return s.serve(ctx)
}

// serve answers on the sockets until ctx ends.
func (s *Server) serve(ctx context.Context) error {
	udpSrv := &dns.Server{PacketConn: s.udp, Handler: s, UDPSize: dns.DefaultMsgSize}
	tcpSrv := &dns.Server{Listener: s.tcp, Handler: s}
	errs := make(chan error, 2)
	go func() { errs <- udpSrv.ActivateAndServe() }()
	go func() { errs <- tcpSrv.ActivateAndServe() }()
	s.cfg.Logger.Info("cluster DNS serving", "address", s.addr.String(), "domain", s.resolver.Domain(), "upstreams", s.upstreams)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
		err = fmt.Errorf("dns server: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = udpSrv.ShutdownContext(sctx)
	_ = tcpSrv.ShutdownContext(sctx)
	return err
}

// ServeDNS answers one query: from the store for the cluster domain, from
// the upstream servers for the rest.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	network := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	reply := s.reply(context.Background(), req, network)
	if network == "udp" {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		reply.Truncate(size)
	}
	_ = w.WriteMsg(reply)
}

// reply computes the reply to req.
func (s *Server) reply(ctx context.Context, req *dns.Msg, network string) *dns.Msg {
	m := new(dns.Msg)
	if req.Opcode != dns.OpcodeQuery {
		return m.SetRcode(req, dns.RcodeNotImplemented)
	}
	if len(req.Question) != 1 {
		return m.SetRcode(req, dns.RcodeFormatError)
	}
	s.mu.RLock()
	store, upstreams := s.store, s.upstreams
	s.mu.RUnlock()
	if store == nil {
		return m.SetRcode(req, dns.RcodeServerFailure)
	}
	q := req.Question[0]
	res := s.resolver.Answer(q, store)
	if res.Forward {
		resp, err := s.forward(ctx, req, network, upstreams)
		if err != nil {
			s.cfg.Logger.Debug("cluster DNS: forward failed", "name", q.Name, "err", err)
			return m.SetRcode(req, dns.RcodeServerFailure)
		}
		resp.Id = req.Id
		return resp
	}
	m.SetReply(req)
	m.Authoritative = res.Authoritative
	m.RecursionAvailable = true
	m.Rcode = res.Rcode
	m.Answer, m.Ns, m.Extra = res.Answer, res.Ns, res.Extra
	if res.Chase != "" {
		chase := new(dns.Msg)
		chase.SetQuestion(res.Chase, q.Qtype)
		if resp, err := s.forward(ctx, chase, network, upstreams); err == nil {
			m.Answer = append(m.Answer, resp.Answer...)
		}
	}
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), false)
	}
	m.Compress = true
	return m
}

// forward asks the upstream servers in order; the first reply wins.
func (s *Server) forward(ctx context.Context, req *dns.Msg, network string, upstreams []string) (*dns.Msg, error) {
	if len(upstreams) == 0 {
		return nil, errors.New("no upstream servers")
	}
	c := &dns.Client{Net: network, Timeout: s.cfg.ForwardTimeout}
	var errs []error
	for _, u := range upstreams {
		resp, _, err := c.ExchangeContext(ctx, req, u)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	return nil, errors.Join(errs...)
}

// readUpstreams returns the nameservers of a resolv.conf as host:port,
// without self (this server's own address).
func readUpstreams(path string, self netip.AddrPort) ([]string, error) {
	rc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return upstreamsOf(rc.Servers, rc.Port, self), nil
}

// upstreamsOf turns nameservers and their port into host:port, leaving out
// self: its exact address, or a loopback address on its port when it
// listens on all addresses.
func upstreamsOf(servers []string, port string, self netip.AddrPort) []string {
	var out []string
	for _, srv := range servers {
		addr, err := netip.ParseAddr(srv)
		if err != nil {
			continue
		}
		addr = addr.Unmap().WithZone("")
		ap, err := netip.ParseAddrPort(net.JoinHostPort(addr.String(), port))
		if err != nil {
			continue
		}
		if ap == self || (self.Addr().IsUnspecified() && ap.Port() == self.Port() && (addr.IsLoopback() || addr.IsUnspecified())) {
			continue
		}
		out = append(out, ap.String())
	}
	return out
}
