package conformance

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Run describes how the reports were made; Render prints it above the
// figures.
type Run struct {
	// Kubernetes is the release of the suite ("v1.37.2").
	Kubernetes string
	// Skiff is the version of the skiff server under test.
	Skiff string
	// Date is the day of the run (YYYY-MM-DD).
	Date string
	// Focus and Skip are the regular expressions the run was narrowed by.
	Focus, Skip string
	// Runtime is the node's runtime ("cri (containerd)").
	Runtime string
}

// Count is the tally of one SIG.
type Count struct {
	SIG                     string
	Passed, Failed, Skipped int
}

// Ran is how many tests of the SIG ran (skipped ones included).
func (c Count) Ran() int { return c.Passed + c.Failed + c.Skipped }

// Summary is the tally of the conformance tests of a run.
type Summary struct {
	// SIGs holds one row per SIG with a test that ran, by name.
	SIGs []Count
	// Total sums the rows.
	Total Count
	// Suite is the number of conformance tests in the reports, run or not.
	Suite int
	// Failures are the failed tests, by SIG and name; Skips the skipped ones.
	Failures, Skips []Result
}

// Summarize tallies the conformance tests of results; other tests, and the
// suite's own nodes unless they failed, are left out.
func Summarize(results []Result) Summary {
	var s Summary
	bySIG := map[string]*Count{}
	for _, r := range results {
		if !r.Conformance() && r.SIG != "suite" {
			continue
		}
		if r.SIG != "suite" {
			s.Suite++
		}
		if r.State == NotRun {
			continue
		}
		c := bySIG[r.SIG]
		if c == nil {
			c = &Count{SIG: r.SIG}
			bySIG[r.SIG] = c
		}
		switch r.State {
		case Passed:
			c.Passed++
			s.Total.Passed++
		case Failed:
			c.Failed++
			s.Total.Failed++
			s.Failures = append(s.Failures, r)
		case Skipped:
			c.Skipped++
			s.Total.Skipped++
			s.Skips = append(s.Skips, r)
		}
	}
	for _, c := range bySIG {
		s.SIGs = append(s.SIGs, *c)
	}
	slices.SortFunc(s.SIGs, func(a, b Count) int { return strings.Compare(a.SIG, b.SIG) })
	byName := func(a, b Result) int { return cmp.Or(strings.Compare(a.SIG, b.SIG), strings.Compare(a.Name, b.Name)) }
	slices.SortFunc(s.Failures, byName)
	slices.SortFunc(s.Skips, byName)
	s.Total.SIG = "total"
	return s
}

// unexplained is the heading of the failures no known cause names.
const unexplained = "no known cause yet (a bug to find, or a cause to add to the known causes)"

// Render writes CONFORMANCE.md for the results of one run. known names the
// causes of failures; knownFile is where the report says they are kept.
func Render(w io.Writer, run Run, results []Result, known []KnownCause, knownFile string) error {
	s := Summarize(results)
	b := &strings.Builder{}
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }

	p("# Conformance\n\n")
	p("The Kubernetes %s conformance suite (the `[Conformance]` tests of its `e2e.test`) against `skiff server`,\n", run.Kubernetes)
	p("as written by `make conformance` (hack/conformance.sh). Do not edit by hand: run it again; the causes of\n")
	p("failures come from `%s`.\n\n", knownFile)
	p("- Run: %s, skiff %s, the server's own node on the %s runtime.\n", run.Date, run.Skiff, run.Runtime)
	p("- Part of the suite: FOCUS %s, SKIP %s.\n", regexOrAll(run.Focus, "(all)"), regexOrAll(run.Skip, "(none)"))
	p("- **%d of %d passed**, %d failed, %d skipped", s.Total.Passed, s.Total.Ran(), s.Total.Failed, s.Total.Skipped)
	if notRun := s.Suite - s.Total.Ran(); notRun > 0 {
		p("; %d of the suite's %d conformance tests were outside this part and did not run", notRun, s.Suite)
	}
	p(".\n\n")

	p("| SIG | passed | failed | skipped |\n|---|---:|---:|---:|\n")
	for _, c := range append(s.SIGs, s.Total) {
		p("| %s | %d | %d | %d |\n", c.SIG, c.Passed, c.Failed, c.Skipped)
	}

	if len(s.Failures) > 0 {
		groups := map[string][]Result{}
		var causes []string
		for _, f := range s.Failures {
			c := Explain(known, f.Name)
			if c == "" {
				c = unexplained
			}
			if _, ok := groups[c]; !ok {
				causes = append(causes, c)
			}
			groups[c] = append(groups[c], f)
		}
		// The biggest groups first: they say what to fix next.
		slices.SortStableFunc(causes, func(a, b string) int {
			return cmp.Or(cmp.Compare(len(groups[b]), len(groups[a])), strings.Compare(a, b))
		})
		p("\n## Failures by known cause\n\n")
		for _, c := range causes {
			p("- %d: %s\n", len(groups[c]), inline(c))
		}
		p("\n## Failures\n\nEach with the first line of its failure message.\n")
		for _, c := range causes {
			p("\n### %s\n\n", inline(c))
			for _, f := range groups[c] {
				p("- `%s`  \n  %s\n", code(f.Name), inline(f.Cause))
			}
		}
	}
	if len(s.Skips) > 0 {
		p("\n## Skipped\n\n")
		for _, r := range s.Skips {
			p("- `%s`  \n  %s\n", code(r.Name), inline(r.Cause))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func regexOrAll(re, none string) string {
	if re == "" {
		return none
	}
	return "`" + code(re) + "`"
}

// code makes s safe inside a code span.
func code(s string) string { return strings.ReplaceAll(s, "`", "'") }

// inline makes s one line of Markdown text that renders as written.
func inline(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	r := strings.NewReplacer("\\", "\\\\", "`", "\\`", "*", "\\*", "_", "\\_", "<", "\\<", "[", "\\[", "]", "\\]", "|", "\\|")
	return r.Replace(s)
}
