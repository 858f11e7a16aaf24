package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// namespaceFile is where a pod finds its namespace, beside its service
// account token.
const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// pods lists pods as an in-cluster client does: rest.InClusterConfig reads
// the service account token (again each minute, so it follows the
// kubelet's refreshes) and the CA from the pod's service account volume.
// Each list prints "listed N pods in NS" or "error: ..." on one line.
func pods(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pods", flag.ContinueOnError)
	fs.SetOutput(stderr)
	namespace := fs.String("n", "", "namespace (default: the pod's own)")
	every := fs.Duration("every", 0, "list again at this interval until killed (0: once)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: fetch pods [-n NS] [-every D]")
		return exitUsage
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		fmt.Fprintln(stderr, "fetch:", err)
		return exitFailed
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "fetch:", err)
		return exitFailed
	}
	ns := *namespace
	if ns == "" {
		b, err := os.ReadFile(namespaceFile)
		if err != nil {
			fmt.Fprintln(stderr, "fetch:", err)
			return exitFailed
		}
		ns = strings.TrimSpace(string(b))
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		cancel()
		if err != nil {
			fmt.Fprintf(stdout, "error: %v\n", err)
		} else {
			fmt.Fprintf(stdout, "listed %d pods in %s\n", len(list.Items), ns)
		}
		if *every <= 0 {
			if err != nil {
				return exitFailed
			}
			return 0
		}
		time.Sleep(*every)
	}
}
