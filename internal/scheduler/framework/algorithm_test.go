package framework_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"skiff.dev/skiff/internal/scheduler/framework"
	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
)

// fakeFilter fails the nodes named in fail with its name as the reason,
// and records what it was asked.
type fakeFilter struct {
	name      string
	fail      map[string]bool
	preFilter *framework.Status // returned by PreFilter
	err       error             // returned by Filter as an Error status
	filtered  []string
}

func (f *fakeFilter) Name() string { return f.name }

func (f *fakeFilter) PreFilter(context.Context, *framework.CycleState, *framework.PodInfo) *framework.Status {
	return f.preFilter
}

func (f *fakeFilter) Filter(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	f.filtered = append(f.filtered, n.Node().Name)
	if f.err != nil {
		return framework.AsStatus(f.err)
	}
	if f.fail[n.Node().Name] {
		return framework.NewStatus(framework.Unschedulable, f.name+" says no")
	}
	return nil
}

// fakeScore scores each node from a table.
type fakeScore struct {
	name   string
	scores map[string]int64
}

func (s *fakeScore) Name() string { return s.name }

func (s *fakeScore) Score(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, n *framework.NodeInfo) (int64, *framework.Status) {
	return s.scores[n.Node().Name], nil
}

// doublingScore is a fakeScore whose NormalizeScores doubles the scores.
type doublingScore struct{ fakeScore }

func (s *doublingScore) NormalizeScores(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, scores []int64) *framework.Status {
	for i := range scores {
		scores[i] *= 2
	}
	return nil
}

// stateScore reads in Score what its PreScore wrote.
type stateScore struct{ node string }

func (stateScore) Name() string { return "state" }

func (s stateScore) PreScore(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, feasible []*framework.NodeInfo) *framework.Status {
	state.Write("state", s.node)
	return nil
}

func (stateScore) Score(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, n *framework.NodeInfo) (int64, *framework.Status) {
	if v, _ := state.Read("state"); v == n.Node().Name {
		return 1, nil
	}
	return 0, nil
}

func threeNodes() []*framework.NodeInfo {
	return ft.NodeInfos([]*corev1.Node{ft.MakeNode("a", "1", "1Gi"), ft.MakeNode("b", "1", "1Gi"), ft.MakeNode("c", "1", "1Gi")}, nil)
}

func TestAlgorithmFilters(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		filters  []*fakeFilter
		want     string   // the node, or the error
		filtered []string // what the last filter was asked, when not nil
	}{
		{
			name:     "the first failing filter decides, the rest are not asked",
			filters:  []*fakeFilter{{name: "one", fail: map[string]bool{"a": true, "b": true}}, {name: "two", fail: map[string]bool{"b": true}}},
			want:     "c",
			filtered: []string{"c"},
		},
		{
			name:    "reasons of every node are counted",
			filters: []*fakeFilter{{name: "one", fail: map[string]bool{"a": true}}, {name: "two", fail: map[string]bool{"b": true, "c": true}}},
			want:    "0/3 nodes are available: 1 one says no, 2 two says no.",
		},
		{
			name:     "a skipped filter is not asked",
			filters:  []*fakeFilter{{name: "one", fail: map[string]bool{"a": true, "b": true}}, {name: "two", preFilter: framework.NewStatus(framework.Skip), fail: map[string]bool{"c": true}}},
			want:     "c",
			filtered: []string{},
		},
		{
			name:    "an unschedulable pre-filter fails every node",
			filters: []*fakeFilter{{name: "one", preFilter: framework.NewStatus(framework.Unschedulable, "pod says no")}, {name: "two"}},
			want:    "0/3 nodes are available: 3 pod says no.",
		},
		{
			name:    "a pre-filter's error fails the attempt",
			filters: []*fakeFilter{{name: "one", preFilter: framework.AsStatus(boom)}},
			want:    `running PreFilter plugin "one": boom`,
		},
		{
			name:    "a filter's error fails the attempt",
			filters: []*fakeFilter{{name: "one", err: boom}},
			want:    `running Filter plugin "one": boom`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var profile framework.Profile
			for _, f := range tt.filters {
				profile.Filters = append(profile.Filters, f)
			}
			n, err := framework.NewAlgorithm(profile, 0, 1).Schedule(context.Background(), framework.NewPodInfo(ft.MakePod("p", nil)), threeNodes())
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = n.Node().Name
			}
			if got != tt.want {
				t.Errorf("Schedule = %q, want %q", got, tt.want)
			}
			if last := tt.filters[len(tt.filters)-1]; tt.filtered != nil && !slices.Equal(last.filtered, tt.filtered) {
				t.Errorf("last filter asked about %v, want %v", last.filtered, tt.filtered)
			}
			if wantBoom := strings.HasSuffix(tt.want, "boom"); errors.Is(err, boom) != wantBoom {
				t.Errorf("errors.Is(err, boom) = %v, want %v", errors.Is(err, boom), wantBoom)
			}
		})
	}
}

func TestAlgorithmScores(t *testing.T) {
	tests := []struct {
		name   string
		scores []framework.WeightedScorePlugin
		want   string
	}{
		{"highest score wins", []framework.WeightedScorePlugin{
			{Plugin: &fakeScore{"s", map[string]int64{"a": 10, "b": 30, "c": 20}}, Weight: 1},
		}, "b"},
		{"weights count", []framework.WeightedScorePlugin{
			{Plugin: &fakeScore{"s1", map[string]int64{"a": 10, "b": 30, "c": 20}}, Weight: 1},
			{Plugin: &fakeScore{"s2", map[string]int64{"a": 15, "b": 0, "c": 0}}, Weight: 2},
		}, "a"},
		{"normalised before weighting", []framework.WeightedScorePlugin{
			{Plugin: &fakeScore{"s1", map[string]int64{"a": 0, "b": 25, "c": 0}}, Weight: 1},
			{Plugin: &doublingScore{fakeScore{"s2", map[string]int64{"a": 0, "b": 0, "c": 13}}}, Weight: 1},
		}, "c"},
		{"PreScore's state reaches Score", []framework.WeightedScorePlugin{{Plugin: stateScore{"b"}, Weight: 1}}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				alg := framework.NewAlgorithm(framework.Profile{Scores: tt.scores}, 0, seed)
				n, err := alg.Schedule(context.Background(), framework.NewPodInfo(ft.MakePod("p", nil)), threeNodes())
				if err != nil {
					t.Fatal(err)
				}
				if n.Node().Name != tt.want {
					t.Fatalf("seed %d: picked %s, want %s", seed, n.Node().Name, tt.want)
				}
			}
		})
	}
}

func TestStatus(t *testing.T) {
	var nilStatus *framework.Status
	if !nilStatus.IsSuccess() || nilStatus.Code() != framework.Success || nilStatus.Reasons() != nil || nilStatus.AsError() != nil {
		t.Errorf("nil status is not a success")
	}
	st := framework.NewStatus(framework.Unschedulable, "a", "b")
	if st.IsSuccess() || fmt.Sprint(st.AsError()) != "a, b" {
		t.Errorf("unschedulable: %v", st.AsError())
	}
	if framework.NewStatus(framework.Skip).AsError() != nil {
		t.Errorf("skip is an error")
	}
	boom := errors.New("boom")
	if !errors.Is(framework.AsStatus(boom).AsError(), boom) || framework.AsStatus(nil) != nil {
		t.Errorf("AsStatus does not keep the error")
	}
}

// TestNodeInfoClone changes a NodeInfo after cloning it and checks that the
// clone still says what the original said.
func TestNodeInfoClone(t *testing.T) {
	n := ft.NodeInfos([]*corev1.Node{ft.MakeNode("n", "4", "8Gi", ft.WithAllocatable("nvidia.com/gpu", "2"))}, map[string][]*corev1.Pod{
		"n": {ft.MakePod("a", ft.Req("cpu", "1", "nvidia.com/gpu", "1"), ft.OwnedBy("rs"), ft.HostPort(8080, ""))},
	})[0]
	c := n.Clone()
	n.AddPod(framework.NewPodInfo(ft.MakePod("b", ft.Req("cpu", "1", "nvidia.com/gpu", "1"), ft.OwnedBy("rs"), ft.HostPort(9090, ""))))
	n.RemovePod(framework.NewPodInfo(ft.MakePod("a", ft.Req("cpu", "1", "nvidia.com/gpu", "1"), ft.OwnedBy("rs"), ft.HostPort(8080, ""))))
	if c.Pods != 1 || c.Requested.MilliCPU != 1000 || c.Requested.Scalar["nvidia.com/gpu"] != 1 || c.OwnedPods("rs") != 1 {
		t.Errorf("clone changed: pods %d, cpu %d, gpu %d, owned %d", c.Pods, c.Requested.MilliCPU, c.Requested.Scalar["nvidia.com/gpu"], c.OwnedPods("rs"))
	}
	if !c.HostPortConflict(framework.HostPort{Protocol: corev1.ProtocolTCP, IP: "0.0.0.0", Port: 8080}) ||
		c.HostPortConflict(framework.HostPort{Protocol: corev1.ProtocolTCP, IP: "0.0.0.0", Port: 9090}) {
		t.Errorf("clone's host ports changed")
	}
	if n.Pods != 1 || n.HostPortConflict(framework.HostPort{Protocol: corev1.ProtocolTCP, IP: "0.0.0.0", Port: 8080}) {
		t.Errorf("original not changed")
	}
}
