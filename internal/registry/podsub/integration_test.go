//go:build integration

package podsub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/testserver"
	"skiff.dev/skiff/internal/wellknown"
)

// cluster is a test server with one node whose kubelet server is the fake.
type cluster struct {
	srv     *testserver.Server
	kubelet *fakeKubelet
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	return startClusterWith(t, false)
}

// startClusterWith starts a cluster whose kubelet serves a self-signed
// certificate when selfSigned.
func startClusterWith(t *testing.T, selfSigned bool) *cluster {
	t.Helper()
	srv := testserver.Start(t, nil)
	k := startFakeKubelet(t, caFile(srv.DataDir), selfSigned)
	ctx := context.Background()
	node, err := srv.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "node-a"}, {Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(k.port)
	if _, err := srv.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	sim := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "sim", Labels: map[string]string{wellknown.SimulatedLabel: "true"}}}
	if _, err := srv.Client.CoreV1().Nodes().Create(ctx, sim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return &cluster{srv: srv, kubelet: k}
}

// pod creates a pod with the containers named, on node (none when empty),
// its containers running or in the given waiting reason.
func (c *cluster) pod(t *testing.T, name, node, waiting string, containers ...string) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{NodeName: node}}
	for _, n := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: n, Image: "busybox"})
	}
	pod, err := c.srv.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node == "" {
		return
	}
	for _, n := range containers {
		st := corev1.ContainerStatus{Name: n, Image: "busybox"}
		if waiting != "" {
			st.State.Waiting = &corev1.ContainerStateWaiting{Reason: waiting}
		} else {
			st.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Now()}
			st.Ready = true
		}
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, st)
	}
	pod.Status.Phase = corev1.PodRunning
	if _, err := c.srv.Client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestPodLogs(t *testing.T) {
	c := startCluster(t)
	c.pod(t, "web", "node-a", "", "app")
	c.pod(t, "two", "node-a", "", "app", "sidecar")
	c.pod(t, "starting", "node-a", "ContainerCreating", "app")
	c.pod(t, "pending", "", "", "app")
	c.pod(t, "simulated", "sim", "", "app")
	ctx := context.Background()
	since := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

	tests := []struct {
		name      string
		pod       string
		opts      corev1.PodLogOptions
		want      string
		wantPath  string
		wantQuery string
		wantCode  int32
		wantMsg   string
	}{
		{name: "only container", pod: "web", want: "log of default/web/app\n", wantPath: "/containerLogs/default/web/app", wantQuery: ""},
		{name: "follow and tail", pod: "web", opts: corev1.PodLogOptions{Follow: true, TailLines: ptr.To[int64](3), Timestamps: true},
			want: "log of default/web/app\nfollowed line\n", wantPath: "/containerLogs/default/web/app", wantQuery: "follow=true&tailLines=3&timestamps=true"},
		{name: "named container, since time, limit", pod: "two", opts: corev1.PodLogOptions{Container: "sidecar", SinceTime: &since, LimitBytes: ptr.To[int64](10)},
			want: "log of default/two/sidecar\n", wantPath: "/containerLogs/default/two/sidecar", wantQuery: "limitBytes=10&sinceTime=2026-01-02T03%3A04%3A05Z"},
		{name: "several containers, none named", pod: "two", wantCode: 400,
			wantMsg: "a container name must be specified for pod two, choose one of: [app sidecar]"},
		{name: "unknown container", pod: "web", opts: corev1.PodLogOptions{Container: "nope"}, wantCode: 400,
			wantMsg: "container nope is not valid for pod web"},
		{name: "waiting container", pod: "starting", wantCode: 400,
			wantMsg: `container "app" in pod "starting" is waiting to start: ContainerCreating`},
		{name: "no previous container", pod: "web", opts: corev1.PodLogOptions{Previous: true}, wantCode: 400,
			wantMsg: `previous terminated container "app" in pod "web" not found`},
		{name: "negative tail", pod: "web", opts: corev1.PodLogOptions{TailLines: ptr.To[int64](-1)}, wantCode: 422,
			wantMsg: "tailLines: Invalid value: -1: must be greater than or equal to 0"},
		{name: "since seconds and since time", pod: "web", opts: corev1.PodLogOptions{SinceSeconds: ptr.To[int64](5), SinceTime: &since}, wantCode: 422,
			wantMsg: "at most one of `sinceTime` or `sinceSeconds` may be specified"},
		{name: "unscheduled pod has no log yet", pod: "pending", want: ""},
		{name: "simulated node", pod: "simulated", wantCode: 400, wantMsg: "node sim is simulated: its pods run no processes"},
		{name: "missing pod", pod: "ghost", wantCode: 404, wantMsg: `pods "ghost" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := c.kubelet.lastRequest()
			rc, err := c.srv.Client.CoreV1().Pods("default").GetLogs(tt.pod, &tt.opts).Stream(ctx)
			if tt.wantCode != 0 {
				var status apierrors.APIStatus
				if !errors.As(err, &status) {
					t.Fatalf("got %v, want status %d", err, tt.wantCode)
				}
				if status.Status().Code != tt.wantCode || !strings.Contains(status.Status().Message, tt.wantMsg) {
					t.Fatalf("got %d %q, want %d %q", status.Status().Code, status.Status().Message, tt.wantCode, tt.wantMsg)
				}
				if c.kubelet.lastRequest() != before {
					t.Errorf("the kubelet was asked: %v", c.kubelet.lastRequest())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("log %q, want %q", got, tt.want)
			}
			if tt.wantPath == "" {
				return
			}
			req := c.kubelet.lastRequest()
			if req == nil || req.Path != tt.wantPath || req.RawQuery != tt.wantQuery {
				t.Errorf("kubelet got %v, want %s?%s", req, tt.wantPath, tt.wantQuery)
			}
		})
	}
}

// The API server verifies the kubelet's serving certificate against the
// cluster CA (kube-apiserver's --kubelet-certificate-authority): a kubelet
// with a certificate of its own is not reached for logs or exec, unless the
// log request says insecureSkipTLSVerifyBackend.
func TestKubeletServingCertificateVerified(t *testing.T) {
	c := startClusterWith(t, true)
	c.pod(t, "web", "node-a", "", "app")
	ctx := context.Background()
	_, err := c.srv.Client.CoreV1().Pods("default").GetLogs("web", &corev1.PodLogOptions{}).Stream(ctx)
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("logs from a kubelet with a self-signed certificate: %v, want a certificate error", err)
	}
	exec, err := remotecommand.NewSPDYExecutor(c.srv.Config, "POST", c.srv.Client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace("default").Name("web").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: []string{"echo", "hi"}, Stdout: true}, scheme.ParameterCodec).URL())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out})
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("exec on a kubelet with a self-signed certificate: %v (%q), want a certificate error", err, out.String())
	}
	if c.kubelet.lastRequest() != nil {
		t.Errorf("the kubelet was reached: %v", c.kubelet.lastRequest())
	}
	rc, err := c.srv.Client.CoreV1().Pods("default").GetLogs("web", &corev1.PodLogOptions{InsecureSkipTLSVerifyBackend: true}).Stream(ctx)
	if err != nil {
		t.Fatalf("logs with insecureSkipTLSVerifyBackend: %v", err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); string(got) != "log of default/web/app\n" {
		t.Errorf("logs with insecureSkipTLSVerifyBackend: %q", got)
	}
}

// A kubelet error passes through to the client.
func TestPodLogsKubeletError(t *testing.T) {
	c := startCluster(t)
	c.pod(t, "web", "node-a", "", "broken")
	_, err := c.srv.Client.CoreV1().Pods("default").GetLogs("web", &corev1.PodLogOptions{}).Stream(context.Background())
	if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "log file is gone") {
		t.Fatalf("got %v, want the kubelet's 500", err)
	}
}

// Raw query parameters are converted as Kubernetes does; bad ones answer 400.
func TestPodLogsQueryParameters(t *testing.T) {
	c := startCluster(t)
	c.pod(t, "web", "node-a", "", "app")
	ctx := context.Background()
	body, err := c.srv.Client.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").Name("web").SubResource("log").
		Param("follow", "1").Param("tailLines", "2").Param("sinceSeconds", "60").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != "log of default/web/app\nfollowed line\n" {
		t.Errorf("body %q", body)
	}
	if q := c.kubelet.lastRequest().RawQuery; q != "follow=true&sinceSeconds=60&tailLines=2" {
		t.Errorf("kubelet query %q", q)
	}
	_, err = c.srv.Client.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").Name("web").SubResource("log").
		Param("tailLines", "many").DoRaw(ctx)
	if !apierrors.IsBadRequest(err) {
		t.Errorf("tailLines=many: got %v, want 400", err)
	}
}

func TestPodExec(t *testing.T) {
	c := startCluster(t)
	c.pod(t, "web", "node-a", "", "app")
	c.pod(t, "two", "node-a", "", "app", "sidecar")
	c.pod(t, "pending", "", "", "app")

	executors := map[string]func(t *testing.T, method string, opts *corev1.PodExecOptions, pod string) remotecommand.Executor{
		"spdy": func(t *testing.T, _ string, opts *corev1.PodExecOptions, pod string) remotecommand.Executor {
			u := c.srv.Client.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name(pod).SubResource("exec").
				VersionedParams(opts, scheme.ParameterCodec).URL()
			e, err := remotecommand.NewSPDYExecutor(c.srv.Config, "POST", u)
			if err != nil {
				t.Fatal(err)
			}
			return e
		},
		"websocket": func(t *testing.T, _ string, opts *corev1.PodExecOptions, pod string) remotecommand.Executor {
			u := c.srv.Client.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").Name(pod).SubResource("exec").
				VersionedParams(opts, scheme.ParameterCodec).URL()
			e, err := remotecommand.NewWebSocketExecutor(c.srv.Config, "GET", u.String())
			if err != nil {
				t.Fatal(err)
			}
			return e
		},
	}
	for protocol, executor := range executors {
		t.Run(protocol, func(t *testing.T) {
			tests := []struct {
				name       string
				pod        string
				opts       corev1.PodExecOptions
				stdin      string
				wantOut    string
				wantErrOut string
				wantCode   int // exit code
				wantErr    string
			}{
				{name: "echo", pod: "web", opts: corev1.PodExecOptions{Command: []string{"echo", "hello", "world"}, Stdout: true, Stderr: true},
					wantOut: "hello world in default/web/app\n"},
				{name: "stdin", pod: "web", opts: corev1.PodExecOptions{Command: []string{"cat"}, Stdin: true, Stdout: true}, stdin: "from stdin",
					wantOut: "from stdin"},
				{name: "named container", pod: "two", opts: corev1.PodExecOptions{Container: "sidecar", Command: []string{"echo", "hi"}, Stdout: true},
					wantOut: "hi in default/two/sidecar\n"},
				{name: "exit code", pod: "web", opts: corev1.PodExecOptions{Command: []string{"fail", "3"}, Stdout: true, Stderr: true},
					wantErrOut: "failing\n", wantCode: 3},
				{name: "several containers", pod: "two", opts: corev1.PodExecOptions{Command: []string{"echo"}, Stdout: true},
					wantErr: "a container name must be specified for pod two, choose one of: [app sidecar]"},
				{name: "no node", pod: "pending", opts: corev1.PodExecOptions{Command: []string{"echo"}, Stdout: true},
					wantErr: "pod pending does not have a host assigned"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					var stdout, stderr bytes.Buffer
					so := remotecommand.StreamOptions{}
					if tt.opts.Stdin {
						so.Stdin = strings.NewReader(tt.stdin)
					}
					if tt.opts.Stdout {
						so.Stdout = &stdout
					}
					if tt.opts.Stderr {
						so.Stderr = &stderr
					}
					err := executor(t, "", &tt.opts, tt.pod).StreamWithContext(ctx, so)
					switch {
					case tt.wantErr != "":
						if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
							t.Fatalf("got %v, want %q", err, tt.wantErr)
						}
						return
					case tt.wantCode != 0:
						var exit interface{ ExitStatus() int }
						if !errors.As(err, &exit) || exit.ExitStatus() != tt.wantCode {
							t.Fatalf("got %v, want exit code %d", err, tt.wantCode)
						}
					case err != nil:
						t.Fatal(err)
					}
					if stdout.String() != tt.wantOut || stderr.String() != tt.wantErrOut {
						t.Errorf("stdout %q stderr %q, want %q %q", stdout.String(), stderr.String(), tt.wantOut, tt.wantErrOut)
					}
				})
			}
		})
	}
	// The kubelet got the options as its query parameters.
	req := c.kubelet.lastRequest()
	if req == nil || !strings.HasPrefix(req.Path, "/exec/default/") {
		t.Fatalf("last kubelet request %v", req)
	}
}

func TestPodAttach(t *testing.T) {
	c := startCluster(t)
	c.pod(t, "web", "node-a", "", "app")
	u := c.srv.Client.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("web").SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Stdout: true}, scheme.ParameterCodec).URL()
	for name, newExec := range map[string]func() (remotecommand.Executor, error){
		"spdy": func() (remotecommand.Executor, error) { return remotecommand.NewSPDYExecutor(c.srv.Config, "POST", u) },
		"websocket": func() (remotecommand.Executor, error) {
			return remotecommand.NewWebSocketExecutor(c.srv.Config, "GET", u.String())
		},
	} {
		t.Run(name, func(t *testing.T) {
			e, err := newExec()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := e.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out}); err != nil {
				t.Fatal(err)
			}
			if out.String() != "attached to default/web/app\n" {
				t.Errorf("stdout %q", out.String())
			}
		})
	}
}

func TestPodPortForward(t *testing.T) {
	c := startCluster(t)
	c.pod(t, "web", "node-a", "", "app")
	u := c.srv.Client.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("web").SubResource("portforward").URL()

	dialers := map[string]func(t *testing.T) httpstream.Dialer{
		"spdy": func(t *testing.T) httpstream.Dialer {
			transport, upgrader, err := spdy.RoundTripperFor(c.srv.Config)
			if err != nil {
				t.Fatal(err)
			}
			return spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", u)
		},
		"websocket tunnel": func(t *testing.T) httpstream.Dialer {
			d, err := portforward.NewSPDYOverWebsocketDialer(u, c.srv.Config)
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	}
	for name, dialer := range dialers {
		t.Run(name, func(t *testing.T) {
			stop, ready := make(chan struct{}), make(chan struct{})
			var out, errOut bytes.Buffer
			pf, err := portforward.NewOnAddresses(dialer(t), []string{"127.0.0.1"}, []string{":8000"}, stop, ready, &out, &errOut)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- pf.ForwardPorts() }()
			defer func() {
				close(stop)
				<-done
			}()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("port forward: %v (%s)", err, errOut.String())
			case <-time.After(30 * time.Second):
				t.Fatal("port forward not ready")
			}
			ports, err := pf.GetPorts()
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := conn.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(conn)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "default/web:8000 got ping" {
				t.Errorf("got %q", got)
			}
		})
	}
}
