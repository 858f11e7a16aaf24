package framework

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sort"
	"strings"
)

// ErrNoNodesAvailable is returned when the cluster has no nodes at all;
// kube-scheduler reports it with these words.
var ErrNoNodesAvailable = errors.New("no nodes available to schedule pods")

// FitError says why no node fits a pod: how many nodes there were and how
// many failed for each reason.
type FitError struct {
	NumAllNodes int
	Reasons     map[string]int
}

// Error is kube-scheduler's summary, "0/3 nodes are available: 1 node(s)
// had untolerated taint {k: v}, 2 Insufficient cpu.": each reason with its
// node count, sorted as strings, joined by ", ". kube-scheduler appends what
// preemption found; this scheduler's preemption (in package scheduler)
// appends nothing.
func (e *FitError) Error() string {
	parts := make([]string, 0, len(e.Reasons))
	for r, c := range e.Reasons {
		parts = append(parts, fmt.Sprintf("%d %s", c, r))
	}
	sort.Strings(parts)
	return fmt.Sprintf("0/%d nodes are available: %s.", e.NumAllNodes, strings.Join(parts, ", "))
}

// Algorithm places one pod at a time by running a Profile's plugins over
// a snapshot of the nodes. It keeps scratch space between calls and is
// therefore not safe for concurrent use.
type Algorithm struct {
	// PercentageOfNodesToScore is the share of the nodes to find feasible
	// before scoring, as kube-scheduler's option of the same name: 0 means
	// adaptive (50% at 100 nodes, falling by 1% per 125 nodes, at least 5%),
	// and never fewer than 100 nodes.
	PercentageOfNodesToScore int32

	profile Profile
	rng     *rand.Rand
	next    int

	// Scratch space, reused from one pod to the next.
	state      *CycleState
	filters    []FilterPlugin
	feasible   []*NodeInfo
	scores     []int64 // one plugin's, per feasible node
	total      []int64
	reasonsMap map[string]int
}

// NewAlgorithm returns an Algorithm that runs profile's plugins and breaks
// ties by a random source seeded with seed.
func NewAlgorithm(profile Profile, percentageOfNodesToScore int32, seed uint64) *Algorithm {
	return &Algorithm{
		PercentageOfNodesToScore: percentageOfNodesToScore,
		profile:                  profile,
		rng:                      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		state:                    NewCycleState(),
		reasonsMap:               map[string]int{},
	}
}

// minFeasibleNodesToFind and the adaptive percentage follow kube-scheduler.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// NumFeasibleNodesToFind is how many feasible nodes to look for among all.
func (a *Algorithm) NumFeasibleNodesToFind(all int) int {
	if all < minFeasibleNodesToFind || a.PercentageOfNodesToScore >= 100 {
		return all
	}
	pct := int(a.PercentageOfNodesToScore)
	if pct <= 0 {
		pct = 50 - all/125
		if pct < minFeasibleNodesPercentageToFind {
			pct = minFeasibleNodesPercentageToFind
		}
	}
	n := all * pct / 100
	if n < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return n
}

// Schedule picks the node for pi among nodes (all of which have a Node): it
// runs the pre-filters, then the filters over the nodes, starting where the
// last call stopped, until it has found NumFeasibleNodesToFind of them,
// scores those, and returns the best, ties broken at random. When none fits
// it returns a *FitError, or ErrNoNodesAvailable when nodes is empty. A
// plugin's Error status comes back as an error naming the plugin.
func (a *Algorithm) Schedule(ctx context.Context, pi *PodInfo, nodes []*NodeInfo) (*NodeInfo, error) {
	all := len(nodes)
	if all == 0 {
		return nil, ErrNoNodesAvailable
	}
	a.state.reset()
	clear(a.reasonsMap)
	if st := a.preFilter(ctx, pi); !st.IsSuccess() {
		if st.Code() != Unschedulable {
			return nil, st.AsError()
		}
		// The pod fits no node, for the same reasons on each.
		reasons := make(map[string]int, len(st.Reasons()))
		for _, r := range st.Reasons() {
			reasons[r] = all
		}
		return nil, &FitError{NumAllNodes: all, Reasons: reasons}
	}
	want := a.NumFeasibleNodesToFind(all)
	a.feasible = a.feasible[:0]
	start := a.next % all
	processed := 0
	for i := 0; i < all && len(a.feasible) < want; i++ {
		n := nodes[(start+i)%all]
		processed++
		st, err := a.filter(ctx, pi, n)
		if err != nil {
			return nil, err
		}
		if st.IsSuccess() {
			a.feasible = append(a.feasible, n)
			continue
		}
		for _, r := range st.Reasons() {
			a.reasonsMap[r]++
		}
	}
	a.next = (start + processed) % all
	switch len(a.feasible) {
	case 0:
		return nil, &FitError{NumAllNodes: all, Reasons: maps.Clone(a.reasonsMap)}
	case 1:
		return a.feasible[0], nil
	}
	return a.pick(ctx, pi)
}

// FilterNode runs the pre-filters and filters for pi over one node, as
// Schedule does for each node, and returns the status of the first that
// did not succeed: nil when the pod fits the node.
func (a *Algorithm) FilterNode(ctx context.Context, pi *PodInfo, n *NodeInfo) *Status {
	a.state.reset()
	if st := a.preFilter(ctx, pi); !st.IsSuccess() {
		return st
	}
	st, err := a.filter(ctx, pi, n)
	if err != nil {
		return AsStatus(err)
	}
	return st
}

// preFilter runs the pre-filters and keeps in a.filters the filters that
// did not ask to be skipped. It returns the first Unschedulable status, or
// an Error status naming the plugin.
func (a *Algorithm) preFilter(ctx context.Context, pi *PodInfo) *Status {
	a.filters = a.filters[:0]
	for _, f := range a.profile.Filters {
		pf, ok := f.(PreFilterPlugin)
		if !ok {
			a.filters = append(a.filters, f)
			continue
		}
		st := pf.PreFilter(ctx, a.state, pi)
		switch st.Code() {
		case Success:
			a.filters = append(a.filters, f)
		case Skip:
		case Unschedulable:
			return st
		default:
			return AsStatus(fmt.Errorf("running PreFilter plugin %q: %w", f.Name(), st.AsError()))
		}
	}
	return nil
}

// filter runs the filters over one node until the first that fails, as
// kube-scheduler does, and returns its status.
func (a *Algorithm) filter(ctx context.Context, pi *PodInfo, n *NodeInfo) (*Status, error) {
	for _, f := range a.filters {
		st := f.Filter(ctx, a.state, pi, n)
		switch st.Code() {
		case Success:
			continue
		case Unschedulable:
			return st, nil
		}
		return nil, fmt.Errorf("running Filter plugin %q: %w", f.Name(), st.AsError())
	}
	return nil, nil
}

// pick scores the feasible nodes: each plugin's raw scores, normalised
// where the plugin does that, weighted and summed; the highest sum wins.
func (a *Algorithm) pick(ctx context.Context, pi *PodInfo) (*NodeInfo, error) {
	a.total = a.total[:0]
	for range a.feasible {
		a.total = append(a.total, 0)
	}
	for _, w := range a.profile.Scores {
		p := w.Plugin
		if ps, ok := p.(PreScorePlugin); ok {
			st := ps.PreScore(ctx, a.state, pi, a.feasible)
			if st.Code() == Skip {
				continue
			}
			if !st.IsSuccess() {
				return nil, fmt.Errorf("running PreScore plugin %q: %w", p.Name(), st.AsError())
			}
		}
		scores := a.scores[:0]
		for _, n := range a.feasible {
			s, st := p.Score(ctx, a.state, pi, n)
			if !st.IsSuccess() {
				return nil, fmt.Errorf("running Score plugin %q: %w", p.Name(), st.AsError())
			}
			scores = append(scores, s)
		}
		a.scores = scores
		if sn, ok := p.(ScoreNormalizer); ok {
			if st := sn.NormalizeScores(ctx, a.state, pi, scores); !st.IsSuccess() {
				return nil, fmt.Errorf("running NormalizeScores of plugin %q: %w", p.Name(), st.AsError())
			}
		}
		for j, s := range scores {
			a.total[j] += w.Weight * s
		}
	}
	var best *NodeInfo
	bestScore, ties := int64(-1), 0
	for i, score := range a.total {
		switch {
		case score > bestScore:
			best, bestScore, ties = a.feasible[i], score, 1
		case score == bestScore:
			ties++
			if a.rng.IntN(ties) == 0 {
				best = a.feasible[i]
			}
		}
	}
	return best, nil
}
