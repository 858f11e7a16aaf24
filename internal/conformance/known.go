package conformance

import (
	"fmt"
	"regexp"

	"sigs.k8s.io/yaml"
)

// KnownCause names why the failing tests matching a pattern fail: the open
// issue that brings the missing capability, or a reason.
type KnownCause struct {
	// Match is a Go regular expression on the test's name.
	Match string `json:"match"`
	// Cause is what the report says, e.g. "issue 13: ...".
	Cause string `json:"cause"`

	re *regexp.Regexp
}

// ParseKnownCauses reads the hand-maintained list (YAML: a list of match
// and cause).
func ParseKnownCauses(data []byte) ([]KnownCause, error) {
	var known []KnownCause
	if err := yaml.UnmarshalStrict(data, &known); err != nil {
		return nil, fmt.Errorf("known causes: %w", err)
	}
	for i := range known {
		k := &known[i]
		if k.Match == "" || k.Cause == "" {
			return nil, fmt.Errorf("known causes: entry %d: match and cause are both required", i+1)
		}
		re, err := regexp.Compile(k.Match)
		if err != nil {
			return nil, fmt.Errorf("known causes: entry %d: %w", i+1, err)
		}
		k.re = re
	}
	return known, nil
}

// Explain is the cause of the first entry whose pattern matches name, or "".
func Explain(known []KnownCause, name string) string {
	for _, k := range known {
		if k.re != nil && k.re.MatchString(name) {
			return k.Cause
		}
	}
	return ""
}
