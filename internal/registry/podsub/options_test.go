package podsub

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func parameterCodec(t *testing.T) runtime.ParameterCodec {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := RegisterConversions(scheme); err != nil {
		t.Fatal(err)
	}
	return runtime.NewParameterCodec(scheme)
}

func TestOptionsFromQuery(t *testing.T) {
	codec := parameterCodec(t)
	since := metav1.NewTime(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	tests := []struct {
		name    string
		query   string
		into    runtime.Object
		want    runtime.Object
		wantErr string
	}{
		{name: "log, every field",
			query: "container=app&follow=true&previous=1&sinceSeconds=30&timestamps=TRUE&tailLines=10&limitBytes=500&insecureSkipTLSVerifyBackend=true&stream=Stdout",
			into:  &corev1.PodLogOptions{},
			want: &corev1.PodLogOptions{Container: "app", Follow: true, Previous: true, SinceSeconds: ptr.To[int64](30), Timestamps: true,
				TailLines: ptr.To[int64](10), LimitBytes: ptr.To[int64](500), InsecureSkipTLSVerifyBackend: true, Stream: ptr.To("Stdout")}},
		{name: "log, false and zero", query: "follow=false&previous=0&tailLines=0", into: &corev1.PodLogOptions{},
			want: &corev1.PodLogOptions{TailLines: ptr.To[int64](0)}},
		{name: "log, since time", query: "sinceTime=2026-03-04T05:06:07Z", into: &corev1.PodLogOptions{},
			want: &corev1.PodLogOptions{SinceTime: &since}},
		{name: "log, bad integer", query: "tailLines=ten", into: &corev1.PodLogOptions{}, wantErr: "tailLines"},
		{name: "log, bad time", query: "sinceTime=yesterday", into: &corev1.PodLogOptions{}, wantErr: "sinceTime"},
		{name: "exec, repeated command", query: "command=sh&command=-c&command=echo+hi&stdin=1&stdout=1&stderr=0&tty=true&container=app",
			into: &corev1.PodExecOptions{},
			want: &corev1.PodExecOptions{Command: []string{"sh", "-c", "echo hi"}, Stdin: true, Stdout: true, TTY: true, Container: "app"}},
		{name: "attach", query: "stdin=true&stdout=true&stderr=true&container=app", into: &corev1.PodAttachOptions{},
			want: &corev1.PodAttachOptions{Stdin: true, Stdout: true, Stderr: true, Container: "app"}},
		{name: "portforward, repeated and comma-separated ports", query: "ports=80&ports=8080,9090", into: &corev1.PodPortForwardOptions{},
			want: &corev1.PodPortForwardOptions{Ports: []int32{80, 8080, 9090}}},
		{name: "portforward, bad port", query: "ports=http", into: &corev1.PodPortForwardOptions{}, wantErr: "int32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			err = codec.DecodeParameters(values, corev1.SchemeGroupVersion, tt.into)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, tt.into); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateLogOptions(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name string
		opts corev1.PodLogOptions
		want []string
	}{
		{name: "empty"},
		{name: "every valid field", opts: corev1.PodLogOptions{TailLines: ptr.To[int64](0), LimitBytes: ptr.To[int64](1), SinceSeconds: ptr.To[int64](1), Stream: ptr.To("All")}},
		{name: "negative tail", opts: corev1.PodLogOptions{TailLines: ptr.To[int64](-1)}, want: []string{"tailLines: Invalid value: -1: must be greater than or equal to 0"}},
		{name: "zero limit", opts: corev1.PodLogOptions{LimitBytes: ptr.To[int64](0)}, want: []string{"limitBytes: Invalid value: 0: must be greater than 0"}},
		{name: "zero since", opts: corev1.PodLogOptions{SinceSeconds: ptr.To[int64](0)}, want: []string{"sinceSeconds: Invalid value: 0: must be greater than 0"}},
		{name: "both since", opts: corev1.PodLogOptions{SinceSeconds: ptr.To[int64](1), SinceTime: &now}, want: []string{"at most one of `sinceTime` or `sinceSeconds` may be specified"}},
		{name: "bad stream", opts: corev1.PodLogOptions{Stream: ptr.To("Both")}, want: []string{`stream: Unsupported value: "Both"`}},
		{name: "stream and tail", opts: corev1.PodLogOptions{Stream: ptr.To("Stderr"), TailLines: ptr.To[int64](1)}, want: []string{"`tailLines` and specific `stream` are mutually exclusive for now"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := validateLogOptions(&tt.opts)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors %v, want %v", errs, tt.want)
			}
			for i, e := range errs {
				if !strings.Contains(e.Error(), tt.want[i]) {
					t.Errorf("error %q, want %q", e.Error(), tt.want[i])
				}
			}
		})
	}
}
