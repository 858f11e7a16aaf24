package framework

import (
	"errors"
	"fmt"
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
// preemption found; this scheduler does not preempt and, like kube-scheduler
// with preemption disabled, appends nothing.
func (e *FitError) Error() string {
	parts := make([]string, 0, len(e.Reasons))
	for r, c := range e.Reasons {
		parts = append(parts, fmt.Sprintf("%d %s", c, r))
	}
	sort.Strings(parts)
	return fmt.Sprintf("0/%d nodes are available: %s.", e.NumAllNodes, strings.Join(parts, ", "))
}

// Algorithm places one pod at a time. It keeps scratch space between calls
// and is therefore not safe for concurrent use.
type Algorithm struct {
	// PercentageOfNodesToScore is the share of the nodes to find feasible
	// before scoring, as kube-scheduler's option of the same name: 0 means
	// adaptive (50% at 100 nodes, falling by 1% per 125 nodes, at least 5%),
	// and never fewer than 100 nodes.
	PercentageOfNodesToScore int32

	rng        *rand.Rand
	next       int
	feasible   []*NodeInfo
	raw        []rawScores
	reasons    []string
	reasonsMap map[string]int
}

type rawScores struct {
	base, spread, affinity, taints int64
}

// NewAlgorithm returns an Algorithm whose ties are broken by a random
// source seeded with seed.
func NewAlgorithm(percentageOfNodesToScore int32, seed uint64) *Algorithm {
	return &Algorithm{
		PercentageOfNodesToScore: percentageOfNodesToScore,
		rng:                      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
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
// filters nodes, starting where the last call stopped, until it has found
// NumFeasibleNodesToFind of them, scores those, and returns the best, ties
// broken at random. When none fits it returns a *FitError, or
// ErrNoNodesAvailable when nodes is empty.
func (a *Algorithm) Schedule(pi *PodInfo, nodes []*NodeInfo) (*NodeInfo, error) {
	all := len(nodes)
	if all == 0 {
		return nil, ErrNoNodesAvailable
	}
	want := a.NumFeasibleNodesToFind(all)
	a.feasible = a.feasible[:0]
	if a.reasonsMap == nil {
		a.reasonsMap = map[string]int{}
	}
	clear(a.reasonsMap)
	start := a.next % all
	processed := 0
	for i := 0; i < all && len(a.feasible) < want; i++ {
		n := nodes[(start+i)%all]
		processed++
		a.reasons = Filter(pi, n, a.reasons[:0])
		if len(a.reasons) == 0 {
			a.feasible = append(a.feasible, n)
			continue
		}
		for _, r := range a.reasons {
			a.reasonsMap[r]++
		}
	}
	a.next = (start + processed) % all
	switch len(a.feasible) {
	case 0:
		reasons := make(map[string]int, len(a.reasonsMap))
		for r, c := range a.reasonsMap {
			reasons[r] = c
		}
		return nil, &FitError{NumAllNodes: all, Reasons: reasons}
	case 1:
		return a.feasible[0], nil
	}
	return a.pick(pi), nil
}

func (a *Algorithm) pick(pi *PodInfo) *NodeInfo {
	a.raw = a.raw[:0]
	var maxSpread, maxAffinity, maxTaints int64
	for _, n := range a.feasible {
		node := n.node
		r := rawScores{
			base:     weightLeastAllocated*leastAllocated(pi, n) + weightBalancedAllocation*balancedAllocation(pi, n),
			spread:   int64(n.OwnedPods(pi.Owner)),
			affinity: preferredAffinity(pi, node),
			taints:   intolerablePreferNoSchedule(pi, node),
		}
		maxSpread = max(maxSpread, r.spread)
		maxAffinity = max(maxAffinity, r.affinity)
		maxTaints = max(maxTaints, r.taints)
		a.raw = append(a.raw, r)
	}
	var best *NodeInfo
	bestScore, ties := int64(-1), 0
	for i, r := range a.raw {
		score := r.base
		// Fewer pods of the same owner, more preferred affinity and fewer
		// untolerated PreferNoSchedule taints score higher, each normalised
		// to 0..100 over the feasible nodes.
		score += weightSpread * inverseNormalised(r.spread, maxSpread)
		if maxAffinity > 0 {
			score += weightNodeAffinity * r.affinity * MaxNodeScore / maxAffinity
		}
		score += weightTaintToleration * inverseNormalised(r.taints, maxTaints)
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
	return best
}

func inverseNormalised(v, maxV int64) int64 {
	if maxV == 0 {
		return MaxNodeScore
	}
	return MaxNodeScore - v*MaxNodeScore/maxV
}
