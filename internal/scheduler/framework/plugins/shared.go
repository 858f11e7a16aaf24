package plugins

import "skiff.dev/skiff/internal/scheduler/framework"

// normaliseInverse maps counts where fewer is better onto
// MaxNodeScore..0: the largest count scores 0; all counts 0 score
// MaxNodeScore.
func normaliseInverse(scores []int64) {
	maxScore := maxOf(scores)
	for i, s := range scores {
		if maxScore == 0 {
			scores[i] = framework.MaxNodeScore
			continue
		}
		scores[i] = framework.MaxNodeScore - s*framework.MaxNodeScore/maxScore
	}
}

func maxOf(scores []int64) int64 {
	var m int64
	for _, s := range scores {
		m = max(m, s)
	}
	return m
}

// statusSkip is what PreFilter and PreScore return when the plugin has
// nothing to do for the pod; a Status is never changed, so one serves all.
var statusSkip = framework.NewStatus(framework.Skip)
