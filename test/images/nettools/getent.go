package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
)

// getentMain answers `getent hosts NAME...` as the C library does: from
// /etc/hosts, then DNS with the resolv.conf search list (Go's resolver reads
// both). It prints "ADDRESS NAME" for each address and exits 2 when a name
// has none.
func getentMain(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) < 1 || args[0] != "hosts" {
		fmt.Fprintln(stderr, "getent: only the hosts database is supported: getent hosts NAME...")
		return 1
	}
	if len(args) == 1 {
		fmt.Fprintln(stderr, "getent: enumerating hosts is not supported; name a host")
		return 1
	}
	code := 0
	for _, name := range args[1:] {
		if ip := net.ParseIP(name); ip != nil {
			names, err := net.DefaultResolver.LookupAddr(ctx, name)
			if err != nil || len(names) == 0 {
				code = 2
				continue
			}
			fmt.Fprintln(stdout, hostsLine(ip.String(), strings.TrimSuffix(names[0], "."), names[1:]))
			continue
		}
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, name)
		if err != nil || len(addrs) == 0 {
			code = 2
			continue
		}
		for _, a := range addrs {
			fmt.Fprintln(stdout, hostsLine(a.IP.String(), name, nil))
		}
	}
	return code
}

// hostsLine formats one line of getent's hosts output: the address padded
// to 15 columns, the name, then the aliases.
func hostsLine(addr, name string, aliases []string) string {
	line := fmt.Sprintf("%-15s %s", addr, name)
	for _, a := range aliases {
		if a = strings.TrimSuffix(a, "."); a != name {
			line += " " + a
		}
	}
	return line
}
