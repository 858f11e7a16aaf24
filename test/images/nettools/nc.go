package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// ncOptions are the parsed options of one nc (netcat-openbsd) command line.
type ncOptions struct {
	Host, Port string
	UDP        bool
	Verbose    bool
	ZeroIO     bool          // -z: connect (or send nothing) and quit
	Timeout    time.Duration // -w: connect and idle timeout; 0 waits for ever
	MaxPackets int           // -W: quit after receiving this many packets
	LocalPort  string        // -p
}

// parseNC parses nc's client options the e2e suite uses: -u, -t (telnet
// negotiation, which an HTTP or echo server never asks for), -v, -z, -n,
// -w SEC, -W N, -p PORT, then HOST PORT.
func parseNC(args []string) (ncOptions, error) {
	var o ncOptions
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		flags := a[1:]
		for j := 0; j < len(flags); j++ {
			c := flags[j]
			switch c {
			case 'u':
				o.UDP = true
			case 't', 'n', 'N':
			case 'v':
				o.Verbose = true
			case 'z':
				o.ZeroIO = true
			case 'w', 'W', 'p':
				v := flags[j+1:]
				if v == "" {
					if i+1 >= len(args) {
						return o, fmt.Errorf("option requires an argument -- %c", c)
					}
					i++
					v = args[i]
				}
				j = len(flags)
				switch c {
				case 'p':
					o.LocalPort = v
				case 'w':
					n, err := strconv.Atoi(v)
					if err != nil || n < 0 {
						return o, fmt.Errorf("timeout %q: not a number of seconds", v)
					}
					o.Timeout = time.Duration(n) * time.Second
				case 'W':
					n, err := strconv.Atoi(v)
					if err != nil || n <= 0 {
						return o, fmt.Errorf("recvlimit %q: not a positive number", v)
					}
					o.MaxPackets = n
				}
			default:
				return o, fmt.Errorf("invalid option -- '%c'", c)
			}
		}
	}
	if len(rest) != 2 {
		return o, errors.New("usage: nc [-tuvzn] [-w timeout] [-W recvlimit] [-p source_port] destination port")
	}
	o.Host, o.Port = rest[0], rest[1]
	return o, nil
}

func ncMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseNC(args)
	if err != nil {
		fmt.Fprintf(stderr, "nc: %v\n", err)
		return 1
	}
	proto := "tcp"
	if o.UDP {
		proto = "udp"
	}
	d := net.Dialer{Timeout: o.Timeout}
	if o.LocalPort != "" {
		port, err := strconv.Atoi(o.LocalPort)
		if err != nil {
			fmt.Fprintf(stderr, "nc: port %q: not a number\n", o.LocalPort)
			return 1
		}
		if o.UDP {
			d.LocalAddr = &net.UDPAddr{Port: port}
		} else {
			d.LocalAddr = &net.TCPAddr{Port: port}
		}
	}
	conn, err := d.DialContext(ctx, proto, net.JoinHostPort(o.Host, o.Port))
	if err != nil {
		fmt.Fprintf(stderr, "nc: connect to %s port %s (%s) failed: %v\n", o.Host, o.Port, proto, unwrapSyscall(err))
		return 1
	}
	defer conn.Close()
	if o.Verbose {
		fmt.Fprintf(stderr, "Connection to %s %s port [%s/*] succeeded!\n", o.Host, o.Port, proto)
	}
	if o.ZeroIO {
		return 0
	}
	return ncCopy(ctx, conn, o, stdin, stdout, stderr)
}

// ncCopy sends stdin to conn (for UDP, each read is one datagram) and
// prints what comes back, until the peer closes, -W packets came, or nothing
// came for the -w timeout; an idle timeout ends nc with status 0, as
// netcat-openbsd does.
func ncCopy(ctx context.Context, conn net.Conn, o ncOptions, stdin io.Reader, stdout, stderr io.Writer) int {
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := stdin.Read(buf)
			if n > 0 {
				if _, werr := conn.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 64<<10)
	packets := 0
	for {
		if o.Timeout > 0 {
			conn.SetReadDeadline(time.Now().Add(o.Timeout))
		}
		n, err := conn.Read(buf)
		if n > 0 {
			stdout.Write(buf[:n])
			packets++
			if o.MaxPackets > 0 && packets >= o.MaxPackets {
				return 0
			}
		}
		var ne net.Error
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.As(err, &ne) && ne.Timeout():
			return 0
		default:
			fmt.Fprintf(stderr, "nc: read(net): %v\n", unwrapSyscall(err))
			return 1
		}
	}
}

// unwrapSyscall returns the innermost system error ("Connection refused"),
// as netcat prints it.
func unwrapSyscall(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}
