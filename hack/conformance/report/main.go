// Command report writes CONFORMANCE.md from the JUnit reports of a
// conformance run (hack/conformance.sh calls it):
//
//	go run ./hack/conformance/report --known hack/conformance/known-causes.yaml \
//	  --focus sig-apps --out CONFORMANCE.md build/conformance/results/junit_*.xml
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"time"

	"skiff.dev/skiff/internal/conformance"
)

func main() {
	var (
		run   conformance.Run
		known = flag.String("known", "hack/conformance/known-causes.yaml", "the hand-maintained causes of known failures")
		out   = flag.String("out", "CONFORMANCE.md", "where to write the report")
	)
	flag.StringVar(&run.Kubernetes, "kubernetes", "v1.37.2", "the Kubernetes release of the suite")
	flag.StringVar(&run.Skiff, "skiff", "(unknown)", "the version of skiff under test")
	flag.StringVar(&run.Date, "date", time.Now().UTC().Format(time.DateOnly), "the day of the run")
	flag.StringVar(&run.Focus, "focus", "", "the FOCUS regular expression of the run")
	flag.StringVar(&run.Skip, "skip", "", "the SKIP regular expression of the run")
	flag.StringVar(&run.Runtime, "runtime", "cri (containerd)", "the node runtime of the run")
	flag.Parse()
	if err := write(run, *known, *out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func write(run conformance.Run, knownFile, out string, junitFiles []string) error {
	if len(junitFiles) == 0 {
		return fmt.Errorf("no JUnit report given")
	}
	var reports [][]conformance.Result
	for _, name := range junitFiles {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		res, err := conformance.ReadJUnit(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		reports = append(reports, res)
	}
	data, err := os.ReadFile(knownFile)
	if err != nil {
		return err
	}
	known, err := conformance.ParseKnownCauses(data)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := conformance.Render(&b, run, conformance.Merge(reports...), known, knownFile); err != nil {
		return err
	}
	return os.WriteFile(out, b.Bytes(), 0o644)
}
