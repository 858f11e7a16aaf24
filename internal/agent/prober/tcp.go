package prober

import (
	"context"
	"net"
	"strconv"
	"time"
)

// probeTCP succeeds when a TCP connection to host:port opens in time.
func probeTCP(ctx context.Context, host string, port int, timeout time.Duration) (Result, string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return Failure, err.Error()
	}
	conn.Close()
	return Success, ""
}
