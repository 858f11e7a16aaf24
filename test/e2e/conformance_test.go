package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// conformanceSmokeFocus is the part of the Kubernetes conformance suite CI
// can run through `make conformance`'s script: tests picked for taking a few
// seconds each (19 tests, under 4 seconds each in the first run), so that
// the whole part takes about two minutes with the server's start and stop.
const conformanceSmokeFocus = `\[sig-api-machinery\] (API priority and fairness|AggregatedDiscovery|Discovery|FieldValidation|Servers with support for Table transformation|Watchers should be able to (re)?start|server version)`

// conformanceSmokeTests is how many [Conformance] tests conformanceSmokeFocus
// selects: a focus that selects fewer (a renamed test) fails the test
// rather than passing on nothing.
const conformanceSmokeTests = 19

// TestConformanceSmoke runs hack/conformance.sh (what `make conformance`
// runs) on a part of the suite, against a skiff server whose node runs
// containerd, and wants every test of it to pass and CONFORMANCE.md written.
// E2E_TEST_BIN and GINKGO_BIN name the suite's binaries (make
// conformance-bin builds them); without them the test is skipped. make e2e
// does not build them: e2e.test takes about 18 minutes of CPU to build on a
// cold cache, far over CI's budget.
func TestConformanceSmoke(t *testing.T) {
	e2eTest, ginkgo := os.Getenv("E2E_TEST_BIN"), os.Getenv("GINKGO_BIN")
	if e2eTest == "" || ginkgo == "" {
		t.Skip("E2E_TEST_BIN and GINKGO_BIN unset: make conformance-bin builds them")
	}
	requireRoot(t)
	requireContainerd(t)
	dir := t.TempDir()
	report, results := filepath.Join(dir, "CONFORMANCE.md"), filepath.Join(dir, "results")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot, "hack", "conformance.sh"))
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(),
		"SKIFF_BIN="+skiffBin, "KUBECTL_BIN="+kubectlBin, "SKIFF_IMAGES="+imagesDir(),
		"E2E_TEST_BIN="+e2eTest, "GINKGO_BIN="+ginkgo,
		"FOCUS="+conformanceSmokeFocus, "SKIP=", "CONFORMANCE_NODES=2",
		"CONFORMANCE_OUT="+report, "CONFORMANCE_RESULTS="+results)
	// On timeout the script gets SIGTERM, so that its trap stops the server.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	out, err := cmd.CombinedOutput()
	if err != nil {
		for _, log := range []string{"parallel.log", "serial.log", "server.log"} {
			if b, rerr := os.ReadFile(filepath.Join(results, log)); rerr == nil {
				t.Logf("%s (tail):\n%s", log, tail(string(b), 6000))
			}
		}
		t.Fatalf("hack/conformance.sh: %v\n%s", err, out)
	}
	md, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("no CONFORMANCE.md written: %v\n%s", err, out)
	}
	want := fmt.Sprintf("**%d of %d passed**, 0 failed, 0 skipped", conformanceSmokeTests, conformanceSmokeTests)
	if !strings.Contains(string(md), want) {
		t.Errorf("CONFORMANCE.md lacks %q:\n%s", want, md)
	}
}
