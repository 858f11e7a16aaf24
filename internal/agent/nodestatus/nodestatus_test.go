package nodestatus

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMerge(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	now := metav1.NewTime(t0.Add(time.Hour))
	notReady := Ready()
	notReady.Status, notReady.Reason = corev1.ConditionFalse, "KubeletNotReady"
	cond := func(c corev1.NodeCondition, hb, tr metav1.Time) corev1.NodeCondition {
		c.LastHeartbeatTime, c.LastTransitionTime = hb, tr
		return c
	}
	pressure := Conditions(Ready())[:3]
	network := corev1.NodeCondition{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated", LastHeartbeatTime: t0, LastTransitionTime: t0}

	tests := []struct {
		name  string
		ready corev1.NodeCondition
		old   []corev1.NodeCondition
		want  []corev1.NodeCondition
	}{{
		name:  "no old conditions: both times are now",
		ready: Ready(),
		want: []corev1.NodeCondition{
			cond(pressure[0], now, now), cond(pressure[1], now, now), cond(pressure[2], now, now), cond(Ready(), now, now),
		},
	}, {
		name:  "unchanged conditions keep both times",
		ready: Ready(),
		old: []corev1.NodeCondition{
			cond(pressure[0], t1, t0), cond(pressure[1], t1, t0), cond(pressure[2], t1, t0), cond(Ready(), t1, t0),
		},
		want: []corev1.NodeCondition{
			cond(pressure[0], t1, t0), cond(pressure[1], t1, t0), cond(pressure[2], t1, t0), cond(Ready(), t1, t0),
		},
	}, {
		name:  "a changed status keeps the heartbeat time and transitions now",
		ready: notReady,
		old:   []corev1.NodeCondition{cond(Ready(), t1, t0)},
		want: []corev1.NodeCondition{
			cond(pressure[0], now, now), cond(pressure[1], now, now), cond(pressure[2], now, now), cond(notReady, t1, now),
		},
	}, {
		name:  "conditions others own are kept, after ours",
		ready: Ready(),
		old:   []corev1.NodeCondition{network, cond(Ready(), t1, t0)},
		want: []corev1.NodeCondition{
			cond(pressure[0], now, now), cond(pressure[1], now, now), cond(pressure[2], now, now), cond(Ready(), t1, t0), network,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Merge(Conditions(tt.ready), tt.old, now)
			if !apiequality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("Merge:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSetHeartbeat(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(t0.Add(time.Hour))
	tests := []struct {
		typ  corev1.NodeConditionType
		want metav1.Time
	}{
		{corev1.NodeMemoryPressure, now},
		{corev1.NodeDiskPressure, now},
		{corev1.NodePIDPressure, now},
		{corev1.NodeReady, now},
		{corev1.NodeNetworkUnavailable, t0},
		{"example.com/Custom", t0},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			st := corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: tt.typ, LastHeartbeatTime: t0, LastTransitionTime: t0}}}
			SetHeartbeat(&st, now)
			c := st.Conditions[0]
			if !c.LastHeartbeatTime.Equal(&tt.want) {
				t.Errorf("heartbeat %v, want %v", c.LastHeartbeatTime, tt.want)
			}
			if !c.LastTransitionTime.Equal(&t0) {
				t.Errorf("transition %v changed, want %v", c.LastTransitionTime, t0)
			}
		})
	}
}

func TestKeepUnowned(t *testing.T) {
	old := &corev1.NodeStatus{
		Images:          []corev1.ContainerImage{{Names: []string{"busybox"}}},
		VolumesInUse:    []corev1.UniqueVolumeName{"vol"},
		VolumesAttached: []corev1.AttachedVolume{{Name: "vol", DevicePath: "/dev/x"}},
		Config:          &corev1.NodeConfigStatus{Error: "x"},
		RuntimeHandlers: []corev1.NodeRuntimeHandler{{Name: "runc"}},
		Features:        &corev1.NodeFeatures{},
		Phase:           corev1.NodeRunning,
		NodeInfo:        corev1.NodeSystemInfo{KubeletVersion: "old"},
	}
	st := corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "new"}}
	KeepUnowned(&st, old)
	want := *old
	want.Phase, want.NodeInfo = "", st.NodeInfo
	if !apiequality.Semantic.DeepEqual(st, want) {
		t.Errorf("KeepUnowned:\n got %+v\nwant %+v", st, want)
	}
	if st.NodeInfo.KubeletVersion != "new" {
		t.Errorf("NodeInfo overwritten: %+v", st.NodeInfo)
	}
}
