package resource

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const kubeletText = `# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="server",namespace="production",pod="ml-0"} 12.5 1767225600000
container_cpu_usage_seconds_total{container="sidecar",namespace="production",pod="ml-0"} 0.25 1767225600000
container_cpu_usage_seconds_total{container="nomem",namespace="production",pod="ml-0"} 1 1767225600000
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="server",namespace="production",pod="ml-0"} 1.048576e+08 1767225600000
container_memory_working_set_bytes{container="sidecar",namespace="production",pod="ml-0"} 4096 1767225600000
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="server",namespace="production",pod="ml-0"} 1.7672256e+09 1767225600000
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 3000.5 1767225601000
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 2e+09 1767225601000
# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds
# TYPE pod_cpu_usage_seconds_total counter
pod_cpu_usage_seconds_total{namespace="production",pod="ml-0"} 12.75 1767225600000
# HELP scrape_error [ALPHA] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE scrape_error gauge
scrape_error 0
`

func TestParse(t *testing.T) {
	scraped := time.Unix(1767225700, 0)
	at := time.UnixMilli(1767225600000)
	tests := []struct {
		name string
		text string
		want Batch
	}{
		{
			name: "kubelet",
			text: kubeletText,
			want: Batch{
				Node: &Point{Time: time.UnixMilli(1767225601000), CPUSeconds: 3000.5, MemoryBytes: 2e9},
				Containers: map[ContainerKey]Point{
					{"production", "ml-0", "server"}:  {Time: at, StartTime: time.Unix(1767225600, 0), CPUSeconds: 12.5, MemoryBytes: 104857600},
					{"production", "ml-0", "sidecar"}: {Time: at, CPUSeconds: 0.25, MemoryBytes: 4096},
				},
			},
		},
		{
			name: "no timestamps: the scrape's time",
			text: "node_cpu_usage_seconds_total 1\nnode_memory_working_set_bytes 2\n" +
				`container_cpu_usage_seconds_total{container="c",namespace="n",pod="p"} 3` + "\n" +
				`container_memory_working_set_bytes{container="c",namespace="n",pod="p"} 4` + "\n",
			want: Batch{
				Node:       &Point{Time: scraped, CPUSeconds: 1, MemoryBytes: 2},
				Containers: map[ContainerKey]Point{{"n", "p", "c"}: {Time: scraped, CPUSeconds: 3, MemoryBytes: 4}},
			},
		},
		{
			name: "no node memory, container without labels",
			text: "node_cpu_usage_seconds_total 1\n" +
				`container_cpu_usage_seconds_total{container="c"} 3` + "\n" +
				`container_memory_working_set_bytes{container="c"} 4` + "\n",
			want: Batch{Containers: map[ContainerKey]Point{}},
		},
		{name: "empty", text: "", want: Batch{Containers: map[ContainerKey]Point{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.text), scraped)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseError(t *testing.T) {
	if _, err := Parse(strings.NewReader("node_cpu_usage_seconds_total{ 1\n"), time.Now()); err == nil {
		t.Error("Parse of broken text: no error")
	}
}
