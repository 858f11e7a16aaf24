// Package fake is a simulated container runtime: an in-memory
// runtime.Runtime that runs no process. Its containers follow a small
// command language (see Runtime) and write their output in the CRI log
// format, so the kubelet's tests can drive pods through exits, OOM kills,
// failed pulls and lost sandboxes without root. It passes the conformance
// suite in runtime/runtimetest, which is what lets those tests trust it.
package fake
