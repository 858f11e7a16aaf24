// Package kubeletserver is the agent's HTTPS server, the part of the
// kubelet's API the API server calls for `kubectl logs`, `exec`, `attach`
// and `port-forward`:
//
//	GET      /containerLogs/{namespace}/{pod}/{container}
//	GET|POST /exec/{namespace}/{pod}[/{uid}]/{container}?command=...
//	GET|POST /attach/{namespace}/{pod}[/{uid}]/{container}
//	GET|POST /portForward/{namespace}/{pod}[/{uid}]
//	GET      /metrics
//	GET      /stats/summary      (Config.Stats; k8s.io/kubelet stats/v1alpha1 Summary)
//	GET      /metrics/resource   (Config.Stats; the kubelet's resource metrics)
//	GET      /healthz
//
// Logs are read from the container's CRI log file. Exec, attach and
// port-forward ask the runtime for a streaming URL and proxy the caller's
// SPDY or WebSocket upgrade to it. The server presents a self-signed
// certificate it makes on first start, and serves only callers with a
// client certificate signed by the cluster CA whose common name is
// kube-apiserver-kubelet-client (the API server); /metrics (Prometheus text
// of the process's component-base registry) also serves the cluster's
// administrators (group system:masters); /healthz is open.
package kubeletserver
