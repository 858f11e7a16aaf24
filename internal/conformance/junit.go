package conformance

import (
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// State is what became of one test in a run.
type State string

const (
	Passed  State = "passed"
	Failed  State = "failed"
	Skipped State = "skipped"
	// NotRun is a test the run's focus and skip left out: Ginkgo reports it
	// as skipped with no reason.
	NotRun State = "not run"
)

// Result is one test of a report.
type Result struct {
	// Name is the test's full text, without Ginkgo's "[It]" prefix.
	Name  string
	SIG   string
	State State
	// Cause is the first line of the failure (or skip) message.
	Cause   string
	Seconds float64
}

// Conformance reports whether the test is part of the conformance suite.
func (r Result) Conformance() bool { return strings.Contains(r.Name, "[Conformance]") }

// The parts of Ginkgo's JUnit report that the summary reads.
type junitSuites struct {
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Cases []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name    string        `xml:"name,attr"`
	Status  string        `xml:"status,attr"`
	Time    float64       `xml:"time,attr"`
	Skipped *junitSkipped `xml:"skipped"`
	Failure *junitFailure `xml:"failure"`
	Error   *junitFailure `xml:"error"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message     string `xml:"message,attr"`
	Type        string `xml:"type,attr"`
	Description string `xml:",chardata"`
}

// ReadJUnit reads the tests of one JUnit report as Ginkgo writes it (the
// e2e framework's junit_*.xml under --report-dir). The suite's own nodes
// (BeforeSuite, ReportAfterSuite...) are left out unless they failed: a
// failed one is why every test of its run failed or did not run.
func ReadJUnit(r io.Reader) ([]Result, error) {
	var doc junitSuites
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("reading JUnit report: %w", err)
	}
	var out []Result
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			node, name := splitNodeType(c.Name)
			res := Result{Name: name, SIG: SIG(name), Seconds: c.Time}
			switch {
			case c.Failure != nil:
				res.State, res.Cause = Failed, failureCause(c.Failure)
			case c.Error != nil:
				res.State, res.Cause = Failed, failureCause(c.Error)
			case c.Skipped != nil:
				msg := c.Skipped.Message
				if reason, ok := strings.CutPrefix(msg, "skipped - "); ok {
					res.State, res.Cause = Skipped, firstLine(reason)
				} else if msg == "pending" || msg == "skipped" {
					res.State = NotRun
				} else {
					res.State, res.Cause = Skipped, firstLine(msg)
				}
			default:
				res.State = Passed
			}
			if node != "It" && node != "" {
				if res.State != Failed {
					continue
				}
				res.Name = strings.TrimSpace("[" + node + "] " + name)
				res.SIG = "suite"
			}
			out = append(out, res)
		}
	}
	return out, nil
}

var nodeTypeRE = regexp.MustCompile(`^\[([A-Za-z]+)\]\s*`)

// splitNodeType splits "[It] [sig-apps] Deployment ..." into "It" and the
// rest.
func splitNodeType(name string) (string, string) {
	m := nodeTypeRE.FindStringSubmatch(name)
	if m == nil {
		return "", strings.TrimSpace(name)
	}
	return m[1], strings.TrimSpace(name[len(m[0]):])
}

var sigRE = regexp.MustCompile(`\[(sig-[a-z0-9-]+)\]`)

// SIG is the first [sig-xxx] label of a test's name ("sig-apps"), or "other".
func SIG(name string) string {
	if m := sigRE.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return "other"
}

// maxCause bounds a cause's length in the report: some failure messages
// carry whole objects on their first line.
const maxCause = 300

// failureCause is the first line of a failure's message: Ginkgo writes the
// message in the attribute or, with the e2e framework's shortened report,
// as "[FAILED] message" at the top of the element's text, followed by
// "In [It] at: file:line". A panic's message is "Test Panicked"; its value
// comes after the location line.
func failureCause(f *junitFailure) string {
	if msg := firstLine(f.Message); msg != "" && msg != "Test Panicked" {
		return msg
	}
	lines := strings.Split(f.Description, "\n")
	var msg string
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if msg == "" {
			msg = stripState(l)
			if msg != "Test Panicked" {
				return clip(msg)
			}
			continue
		}
		if strings.HasPrefix(l, "In [") || i == 0 {
			continue
		}
		return clip("panic: " + l)
	}
	if msg == "" {
		msg = f.Type
	}
	return clip(msg)
}

var stateRE = regexp.MustCompile(`^\[(FAILED|PANICKED|TIMEDOUT|INTERRUPTED|ABORTED)\]\s*`)

func stripState(l string) string {
	if m := stateRE.FindStringSubmatch(l); m != nil {
		rest := strings.TrimSpace(l[len(m[0]):])
		if rest == "" {
			return strings.ToLower(m[1])
		}
		return rest
	}
	return l
}

func firstLine(s string) string {
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return clip(l)
		}
	}
	return ""
}

func clip(s string) string {
	if len(s) <= maxCause {
		return s
	}
	return s[:maxCause] + "…"
}

// Merge joins the results of several reports of one suite (the parallel and
// the serial run): a test that ran in one report wins over the same test
// not run in another. The order is the first report's, new names appended.
func Merge(reports ...[]Result) []Result {
	index := map[string]int{}
	var out []Result
	for _, rep := range reports {
		for _, r := range rep {
			i, ok := index[r.Name]
			if !ok {
				index[r.Name] = len(out)
				out = append(out, r)
				continue
			}
			if out[i].State == NotRun {
				out[i] = r
			}
		}
	}
	return out
}
