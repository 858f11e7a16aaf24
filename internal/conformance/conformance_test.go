package conformance

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadJUnit(t *testing.T) {
	f, err := os.Open("testdata/junit_01.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadJUnit(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{Name: "[sig-api-machinery] Namespaces [Serial] should ensure that all pods are removed when a namespace is deleted [Conformance]",
			SIG: "sig-api-machinery", State: Passed, Seconds: 12.5},
		{Name: "[sig-apps] Deployment deployment should support rollover [Conformance]", SIG: "sig-apps", State: Failed, Seconds: 30.1,
			Cause: `error waiting for deployment "test-rollover-deployment" status to match expectation: timed out`},
		{Name: "[sig-node] Pods should be submitted and removed [NodeConformance] [Conformance]", SIG: "sig-node", State: Failed, Seconds: 0.5,
			Cause: "panic: runtime error: invalid memory address or nil pointer dereference"},
		{Name: "[sig-storage] CSI Inline Volumes should support CSIVolumeSource in Pod API [Conformance]", SIG: "sig-storage", State: Skipped, Seconds: 0.1,
			Cause: "Only supported for providers [gce] (not skeleton)"},
		{Name: "[sig-network] DNS should provide DNS for the cluster [Conformance]", SIG: "sig-network", State: NotRun},
		{Name: "[sig-network] Networking should work with a feature not in conformance", SIG: "sig-network", State: Passed, Seconds: 3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadJUnit (-want +got):\n%s", diff)
	}
}

func TestReadJUnitFailedSuiteNode(t *testing.T) {
	const doc = `<testsuites><testsuite>
<testcase name="[SynchronizedBeforeSuite]" status="failed"><failure type="failed">[FAILED] there are currently no ready, schedulable nodes in the cluster
In [SynchronizedBeforeSuite] at: k8s.io/kubernetes/test/e2e/e2e.go:300</failure></testcase>
<testcase name="[It] [sig-apps] Job should run a job to completion [Conformance]" status="skipped"><skipped message="skipped"/></testcase>
</testsuite></testsuites>`
	got, err := ReadJUnit(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{Name: "[SynchronizedBeforeSuite]", SIG: "suite", State: Failed, Cause: "there are currently no ready, schedulable nodes in the cluster"},
		{Name: "[sig-apps] Job should run a job to completion [Conformance]", SIG: "sig-apps", State: NotRun},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadJUnit (-want +got):\n%s", diff)
	}
	// The failed suite node is in the figures: the tests did not run because of it.
	if s := Summarize(got); s.Total.Failed != 1 || s.Suite != 1 {
		t.Errorf("Summarize = %+v, want the suite node's failure counted and 1 conformance test in the suite", s)
	}
}

func TestReadJUnitInvalid(t *testing.T) {
	if _, err := ReadJUnit(strings.NewReader("<testsuites><testsuite>")); err == nil {
		t.Error("ReadJUnit of a truncated report succeeded")
	}
}

func TestSIG(t *testing.T) {
	for name, want := range map[string]string{
		"[sig-api-machinery] Watchers should observe [Conformance]":   "sig-api-machinery",
		"[sig-node] [NodeConformance] [sig-windows] Pods should work": "sig-node",
		"Something without a label":                                   "other",
		"[sig-] not a SIG":                                            "other",
	} {
		if got := SIG(name); got != want {
			t.Errorf("SIG(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestFailureCause(t *testing.T) {
	long := strings.Repeat("x", maxCause+10)
	for _, tc := range []struct {
		name string
		f    junitFailure
		want string
	}{
		{"message attribute", junitFailure{Message: "boom\nmore", Description: "[FAILED] other"}, "boom"},
		{"first line of the text", junitFailure{Description: "\n[FAILED] timed out waiting for the condition\nIn [It] at: x.go:1"}, "timed out waiting for the condition"},
		{"timed out", junitFailure{Type: "timedout", Description: "[TIMEDOUT] A suite timeout occurred\nIn [It] at: x.go:1"}, "A suite timeout occurred"},
		{"panic value", junitFailure{Description: "[PANICKED] Test Panicked\nIn [It] at: panic.go:262\n\nassignment to entry in nil map\n"}, "panic: assignment to entry in nil map"},
		{"empty", junitFailure{Type: "failed"}, "failed"},
		{"long line clipped", junitFailure{Description: "[FAILED] " + long}, long[:maxCause] + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := failureCause(&tc.f); got != tc.want {
				t.Errorf("failureCause = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	parallel := []Result{
		{Name: "a [Conformance]", State: Passed},
		{Name: "b [Serial] [Conformance]", State: NotRun},
	}
	serial := []Result{
		{Name: "a [Conformance]", State: NotRun},
		{Name: "b [Serial] [Conformance]", State: Failed, Cause: "x"},
		{Name: "c [Conformance]", State: NotRun},
	}
	want := []Result{
		{Name: "a [Conformance]", State: Passed},
		{Name: "b [Serial] [Conformance]", State: Failed, Cause: "x"},
		{Name: "c [Conformance]", State: NotRun},
	}
	if diff := cmp.Diff(want, Merge(parallel, serial)); diff != "" {
		t.Errorf("Merge (-want +got):\n%s", diff)
	}
}

func TestKnownCauses(t *testing.T) {
	known, err := ParseKnownCauses([]byte(`
- match: 'should support remote command execution'
  cause: 'issue 99: exec over websockets'
- match: '^\[sig-storage\]'
  cause: 'no CSI driver'
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"[sig-node] Pods should support remote command execution over websockets [Conformance]": "issue 99: exec over websockets",
		"[sig-storage] Projected volume should work [Conformance]":                              "no CSI driver",
		"[sig-apps] Job should work [Conformance]":                                              "",
	} {
		if got := Explain(known, name); got != want {
			t.Errorf("Explain(%q) = %q, want %q", name, got, want)
		}
	}
	for _, bad := range []string{
		"- match: '('\n  cause: x\n",
		"- match: a\n",
		"- match: a\n  cause: b\n  issue: 3\n",
		"not a list",
	} {
		if _, err := ParseKnownCauses([]byte(bad)); err == nil {
			t.Errorf("ParseKnownCauses(%q) succeeded, want an error", bad)
		}
	}
}

func TestRender(t *testing.T) {
	results := []Result{
		{Name: "[sig-apps] Deployment should roll [Conformance]", SIG: "sig-apps", State: Passed},
		{Name: "[sig-apps] Job should finish [Conformance]", SIG: "sig-apps", State: Failed, Cause: "timed out"},
		{Name: "[sig-apps] StatefulSet should scale [Conformance]", SIG: "sig-apps", State: Failed, Cause: "pods not ready"},
		{Name: "[sig-node] Pods should exec [Conformance]", SIG: "sig-node", State: Failed, Cause: "exec: `sh` not found"},
		{Name: "[sig-node] Probes should probe [Conformance]", SIG: "sig-node", State: Skipped, Cause: "not supported"},
		{Name: "[sig-network] DNS should resolve [Conformance]", SIG: "sig-network", State: NotRun},
		{Name: "[sig-network] Not conformance", SIG: "sig-network", State: Failed, Cause: "ignored"},
	}
	known, err := ParseKnownCauses([]byte("- match: 'Job|StatefulSet'\n  cause: 'issue 13: controllers'\n"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	run := Run{Kubernetes: "v1.37.2", Skiff: "v0.1.0", Date: "2026-12-08", Focus: `sig-apps|sig-node`, Runtime: "cri (containerd)"}
	if err := Render(&b, run, results, known, "hack/conformance/known-causes.yaml"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"- Run: 2026-12-08, skiff v0.1.0, the server's own node on the cri (containerd) runtime.\n",
		"- Part of the suite: FOCUS `sig-apps|sig-node`, SKIP (none).\n",
		"- **1 of 5 passed**, 3 failed, 1 skipped; 1 of the suite's 6 conformance tests were outside this part and did not run.\n",
		"| sig-apps | 1 | 2 | 0 |\n| sig-node | 0 | 1 | 1 |\n| total | 1 | 3 | 1 |\n",
		"## Failures by known cause\n\n- 2: issue 13: controllers\n- 1: no known cause yet",
		"### issue 13: controllers\n\n- `[sig-apps] Job should finish [Conformance]`  \n  timed out\n- `[sig-apps] StatefulSet should scale [Conformance]`  \n  pods not ready\n",
		"- `[sig-node] Pods should exec [Conformance]`  \n  exec: \\`sh\\` not found\n",
		"## Skipped\n\n- `[sig-node] Probes should probe [Conformance]`  \n  not supported\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("CONFORMANCE.md lacks %q; it is:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sig-network |") || strings.Contains(out, "ignored") {
		t.Errorf("CONFORMANCE.md counts a test that did not run or is not conformance:\n%s", out)
	}
}
