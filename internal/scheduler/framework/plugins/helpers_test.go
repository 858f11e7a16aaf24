package plugins_test

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"skiff.dev/skiff/internal/scheduler/framework"
	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
)

// filterCase is one row of a filter plugin's table: the pod on the node
// with the placed pods, and the reasons it must fail with (none: it fits).
type filterCase struct {
	name   string
	node   *corev1.Node
	placed []*corev1.Pod
	pod    *corev1.Pod
	want   []string
}

func runFilterCases(t *testing.T, p framework.FilterPlugin, tests []filterCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ni := ft.NodeInfos([]*corev1.Node{tt.node}, map[string][]*corev1.Pod{tt.node.Name: tt.placed})[0]
			st := ft.RunFilter(context.Background(), p, tt.pod, ni)
			if c := st.Code(); c == framework.Error {
				t.Fatalf("%s: error %v", p.Name(), st.AsError())
			}
			var got []string
			if st.Code() == framework.Unschedulable {
				got = slices.Sorted(slices.Values(st.Reasons()))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s = %q, want %q", p.Name(), got, tt.want)
			}
		})
	}
}

// scoreCase is one row of a score plugin's table: the pod over the nodes
// with the placed pods, and the scores after normalising (nil: skipped).
type scoreCase struct {
	name   string
	nodes  []*corev1.Node
	placed map[string][]*corev1.Pod
	pod    *corev1.Pod
	want   []int64
}

func runScoreCases(t *testing.T, p framework.ScorePlugin, tests []scoreCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st := ft.RunScore(context.Background(), p, tt.pod, ft.NodeInfos(tt.nodes, tt.placed))
			if c := st.Code(); c != framework.Success && c != framework.Skip {
				t.Fatalf("%s: status %v", p.Name(), st.AsError())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s scores %v, want %v", p.Name(), got, tt.want)
			}
		})
	}
}
