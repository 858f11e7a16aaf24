// Package kubeletserver is the agent's HTTPS server, the part of the
// kubelet's API the API server calls for `kubectl logs`, `exec`, `attach`
// and `port-forward`:
//
//	GET      /pods
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
// SPDY or WebSocket upgrade to it. The server presents the serving
// certificate the cluster CA signed at join (a self-signed one without it).
//
// Every route is authenticated and authorized as the kubelet's are
// (NewAuth): a client certificate of the cluster CA or a bearer token the
// API server reviews (TokenReview) names the caller, anonymous callers get
// 401, and a SubjectAccessReview on the node's subresources decides
// (RequestAttributes: nodes/proxy for logs, exec, attach and port-forward,
// nodes/stats, nodes/metrics, nodes/pods, nodes/healthz...), 403 with the
// kubelet's message when denied.
package kubeletserver
