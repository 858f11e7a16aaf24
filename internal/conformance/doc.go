// Package conformance turns the JUnit reports of the Kubernetes conformance
// suite (e2e.test run by hack/conformance.sh) into CONFORMANCE.md: the
// [Conformance] tests passed, failed and skipped per SIG, each failure with
// its cause (the first line of its failure message) and, where a
// hand-maintained list of known causes names it, the open issue or reason
// behind it.
package conformance
