package job

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// noIndex marks a pod without a valid completion index.
const noIndex = -1

func isIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

// completionIndex reads a pod's completion index annotation.
func completionIndex(pod *corev1.Pod) int {
	v, ok := pod.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return noIndex
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return noIndex
	}
	return i
}

// parseIndexes reads the status form "1,3-5,7" keeping the indexes below
// limit; malformed parts are skipped.
func parseIndexes(s string, limit int) sets.Set[int] {
	out := sets.New[int]()
	if s == "" {
		return out
	}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil || first < 0 {
			continue
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil || last < first {
				continue
			}
		}
		for i := first; i <= last && i < limit; i++ {
			out.Insert(i)
		}
	}
	return out
}

// formatIndexes writes indexes in the status form, consecutive runs as
// ranges.
func formatIndexes(ix sets.Set[int]) string {
	list := sets.List(ix)
	var b strings.Builder
	for i := 0; i < len(list); {
		j := i
		for j+1 < len(list) && list[j+1] == list[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(list[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(list[j]))
		}
		i = j + 1
	}
	return b.String()
}

// pendingIndexes returns up to n of the lowest indexes below completions
// that neither succeeded nor have an active pod.
func pendingIndexes(completions int, succeeded sets.Set[int], active []*corev1.Pod, n int) []int {
	busy := sets.New[int]()
	for _, p := range active {
		busy.Insert(completionIndex(p))
	}
	var out []int
	for i := 0; i < completions && len(out) < n; i++ {
		if !succeeded.Has(i) && !busy.Has(i) {
			out = append(out, i)
		}
	}
	return out
}

// duplicateIndexPods returns the active pods an Indexed Job must remove:
// those without a valid index, with an index out of range, and all but the
// most advanced pod of an index that has several.
func duplicateIndexPods(active []*corev1.Pod, completions int) (rm, keep []*corev1.Pod) {
	byIndex := map[int][]*corev1.Pod{}
	for _, p := range active {
		ix := completionIndex(p)
		if ix == noIndex || ix >= completions {
			rm = append(rm, p)
			continue
		}
		byIndex[ix] = append(byIndex[ix], p)
	}
	for _, ix := range slices.Sorted(maps.Keys(byIndex)) {
		pods := byIndex[ix]
		slices.SortFunc(pods, lessAdvanced)
		rm = append(rm, pods[:len(pods)-1]...)
		keep = append(keep, pods[len(pods)-1])
	}
	return rm, keep
}
