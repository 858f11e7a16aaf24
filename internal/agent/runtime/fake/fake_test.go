package fake

import (
	"errors"
	"net/netip"
	"strconv"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/agent/runtime/runtimetest"
)

// TestConformance runs the runtime contract's suite against the fake: the
// kubelet's tests trust it to behave as the real runtimes do.
func TestConformance(t *testing.T) {
	const absent = "localhost/skiff/absent:v0"
	cidr := netip.MustParsePrefix("10.88.0.0/24")
	runtimetest.Run(t, runtimetest.Implementation{
		New: func(t *testing.T) runtime.Runtime {
			f := New()
			f.SetPodCIDR(cidr)
			f.SetPullError(absent, errors.New(`failed to pull and unpack image "`+absent+`": not found`))
			if _, err := f.PullImage(t.Context(), &runtimeapi.ImageSpec{Image: "skiff/app:v1"}, nil, nil); err != nil {
				t.Fatal(err)
			}
			return f
		},
		PodCIDR:     cidr,
		Image:       "skiff/app:v1",
		AbsentImage: absent,
		Programs: runtimetest.Programs{
			Echo: func(words ...string) []string { return append([]string{"fake-echo"}, words...) },
			Exit: func(code int) []string {
				n := strconv.Itoa(code)
				return []string{"fake-exit", n, "exiting " + n}
			},
			Serve:      []string{"fake-serve"},
			IgnoreTerm: []string{"fake-ignore-term"},
		},
	})
}
