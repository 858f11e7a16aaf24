package framework

import (
	"context"
	"errors"
	"strings"
)

// Plugin is one named piece of the placement algorithm. Its name appears in
// errors; kube-scheduler's plugin names are used where a plugin does what
// kube-scheduler's of that name does.
type Plugin interface {
	Name() string
}

// FilterPlugin decides whether a pod may run on a node. Filter returns nil
// (or a status whose Code is Success) when it may, an Unschedulable status
// whose reasons say why not, or an Error status when it could not decide;
// an error fails the whole scheduling attempt. Filter reads the node as it
// is in the snapshot and must not change it.
type FilterPlugin interface {
	Plugin
	Filter(ctx context.Context, state *CycleState, pi *PodInfo, n *NodeInfo) *Status
}

// ScorePlugin ranks a node that passed every filter: the higher, the
// better. A plugin whose raw scores are not already in 0..MaxNodeScore
// implements ScoreNormalizer as well. The Profile weights each plugin's
// scores and the node with the highest sum wins.
type ScorePlugin interface {
	Plugin
	Score(ctx context.Context, state *CycleState, pi *PodInfo, n *NodeInfo) (int64, *Status)
}

// PreFilterPlugin is an optional extension of a FilterPlugin: PreFilter runs
// once per pod before any node is filtered, to compute what every Filter
// call for this pod needs and keep it in state. A Skip status leaves the
// plugin's Filter out for this pod; an Unschedulable status fails every
// node with its reasons.
type PreFilterPlugin interface {
	FilterPlugin
	PreFilter(ctx context.Context, state *CycleState, pi *PodInfo) *Status
}

// PreScorePlugin is an optional extension of a ScorePlugin: PreScore runs
// once per pod before the feasible nodes are scored.
type PreScorePlugin interface {
	ScorePlugin
	PreScore(ctx context.Context, state *CycleState, pi *PodInfo, feasible []*NodeInfo) *Status
}

// ScoreNormalizer is an optional extension of a ScorePlugin: NormalizeScores
// rewrites the raw scores of all feasible nodes (in the order Score saw
// them) into 0..MaxNodeScore before they are weighted.
type ScoreNormalizer interface {
	ScorePlugin
	NormalizeScores(ctx context.Context, state *CycleState, pi *PodInfo, scores []int64) *Status
}

// MaxNodeScore is the most a score plugin gives a node once normalised.
const MaxNodeScore int64 = 100

// WeightedScorePlugin is a score plugin with the weight its scores count
// with.
type WeightedScorePlugin struct {
	Plugin ScorePlugin
	Weight int64
}

// Profile is the list of plugins an Algorithm runs: the filters in order
// (the first that fails decides the reason) and the weighted scorers.
type Profile struct {
	Filters []FilterPlugin
	Scores  []WeightedScorePlugin
}

// Code says what a Status means.
type Code int

const (
	// Success: the pod may run on the node (the zero Code; a nil *Status
	// means the same).
	Success Code = iota
	// Error: the plugin could not decide; the attempt fails.
	Error
	// Unschedulable: the pod may not run on the node, for the reasons
	// given.
	Unschedulable
	// Skip, from PreFilter or PreScore only: the plugin has nothing to do
	// for this pod.
	Skip
)

// Status is what a plugin returns. A nil *Status is Success.
type Status struct {
	code    Code
	reasons []string
	err     error
}

// NewStatus returns a status with the code and reasons. For Unschedulable
// the reasons are worded as kube-scheduler's plugins word them, since
// FitError counts them into the FailedScheduling message.
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{code: code, reasons: reasons}
}

// AsStatus wraps err in an Error status; nil gives nil.
func AsStatus(err error) *Status {
	if err == nil {
		return nil
	}
	return &Status{code: Error, reasons: []string{err.Error()}, err: err}
}

// Code returns the status's code; Success for nil.
func (s *Status) Code() Code {
	if s == nil {
		return Success
	}
	return s.code
}

// IsSuccess reports whether s is nil or Success.
func (s *Status) IsSuccess() bool { return s.Code() == Success }

// Reasons returns the reasons the status was made with.
func (s *Status) Reasons() []string {
	if s == nil {
		return nil
	}
	return s.reasons
}

// AsError returns the status as an error: nil for Success and Skip, the
// wrapped error for AsStatus, the joined reasons otherwise.
func (s *Status) AsError() error {
	switch {
	case s.IsSuccess() || s.code == Skip:
		return nil
	case s.err != nil:
		return s.err
	}
	return errors.New(strings.Join(s.reasons, ", "))
}

// StateKey names one plugin's data in a CycleState; a plugin's name is a
// good key.
type StateKey string

// CycleState holds what plugins compute for one pod's scheduling attempt
// (in PreFilter or PreScore) and read back for every node. It lives for one
// attempt; the Algorithm clears it before the next pod. It is not safe for
// concurrent use, nor does it need to be: one attempt runs at a time.
type CycleState struct {
	data map[StateKey]any
}

// NewCycleState returns an empty CycleState.
func NewCycleState() *CycleState { return &CycleState{data: map[StateKey]any{}} }

// Write stores v under key.
func (c *CycleState) Write(key StateKey, v any) { c.data[key] = v }

// Read returns what was stored under key, and whether anything was.
func (c *CycleState) Read(key StateKey) (any, bool) {
	v, ok := c.data[key]
	return v, ok
}

func (c *CycleState) reset() { clear(c.data) }
