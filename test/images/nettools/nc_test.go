package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseNC(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    ncOptions
		wantErr string
	}{
		{name: "service reachability, TCP", args: []string{"-v", "-t", "-w", "2", "10.96.0.10", "80"},
			want: ncOptions{Host: "10.96.0.10", Port: "80", Verbose: true, Timeout: 2 * time.Second}},
		{name: "service reachability, UDP", args: []string{"-v", "-u", "-w", "2", "svc", "53"},
			want: ncOptions{Host: "svc", Port: "53", UDP: true, Verbose: true, Timeout: 2 * time.Second}},
		{name: "combined flags and attached values", args: []string{"-vzw1", "-W1", "-p", "12345", "h", "9"},
			want: ncOptions{Host: "h", Port: "9", Verbose: true, ZeroIO: true, Timeout: time.Second, MaxPackets: 1, LocalPort: "12345"}},
		{name: "listen is not supported", args: []string{"-l", "-p", "80"}, wantErr: "invalid option -- 'l'"},
		{name: "no port", args: []string{"-v", "host"}, wantErr: "usage: nc"},
		{name: "bad timeout", args: []string{"-w", "x", "h", "1"}, wantErr: `timeout "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNC(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseNC(%q) error = %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseNC(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
		})
	}
}

// hostNameServer answers each TCP connection's first line and each UDP
// datagram with "pod-a", as agnhost netexec answers "hostName".
func hostNameServer(t *testing.T) (tcpAddr, udpAddr string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); pc.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if line, err := bufio.NewReader(c).ReadString('\n'); err == nil && line == "hostName\n" {
					c.Write([]byte("pod-a"))
				}
			}()
		}
	}()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if string(buf[:n]) == "hostName\n" {
				pc.WriteTo([]byte("pod-a"), from)
			}
		}
	}()
	return ln.Addr().String(), pc.LocalAddr().String()
}

func TestNC(t *testing.T) {
	tcpAddr, udpAddr := hostNameServer(t)
	tcpHost, tcpPort, _ := net.SplitHostPort(tcpAddr)
	udpHost, udpPort, _ := net.SplitHostPort(udpAddr)
	_, closed, _ := net.SplitHostPort(closedPort(t))
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
		maxTime    time.Duration
	}{
		{name: "TCP: the server closes after answering", args: []string{"-v", "-t", "-w", "2", tcpHost, tcpPort},
			wantStdout: "pod-a", wantStderr: "Connection to 127.0.0.1 " + tcpPort + " port [tcp/*] succeeded!", maxTime: time.Second},
		{name: "UDP: the answer, then the idle timeout ends nc", args: []string{"-v", "-u", "-w", "1", udpHost, udpPort},
			wantStdout: "pod-a", wantStderr: "[udp/*] succeeded!", maxTime: 3 * time.Second},
		{name: "UDP with -W 1 ends at the first packet", args: []string{"-u", "-W", "1", "-w", "5", udpHost, udpPort},
			wantStdout: "pod-a", maxTime: 2 * time.Second},
		{name: "-z only connects", args: []string{"-vz", "-w", "2", tcpHost, tcpPort}, wantStderr: "succeeded!", maxTime: time.Second},
		{name: "refused", args: []string{"-v", "-w", "2", "127.0.0.1", closed}, wantCode: 1,
			wantStderr: "nc: connect to 127.0.0.1 port " + closed + " (tcp) failed: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := run(context.Background(), "nc", tt.args, strings.NewReader("hostName\n"), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if stdout.String() != tt.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
			if took := time.Since(start); tt.maxTime > 0 && took > tt.maxTime {
				t.Errorf("nc took %v, want under %v", took, tt.maxTime)
			}
		})
	}
}
