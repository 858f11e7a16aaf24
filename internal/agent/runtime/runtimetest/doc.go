// Package runtimetest is the conformance suite of the runtime contract: one
// test body, Run, written against runtime.Runtime, that each implementation
// (fake, process, containerd) runs from its own tests with a small
// Implementation description — how to start it and how to run the suite's
// programs in it — as etcd's test framework runs one body against several
// server kinds. It covers what the kubelet relies on: version, sandboxes
// and their IPs, container states, exit codes, reasons and times, SIGTERM
// then SIGKILL on stop, logs in the CRI format, list filters, ExecSync,
// image semantics, idempotent stop and remove, and Close.
package runtimetest
