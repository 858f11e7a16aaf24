package podenv

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-1", Namespace: "prod", UID: "uid-1",
			Labels:      map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{"note": "hi"},
		},
		Spec: corev1.PodSpec{
			NodeName: "node-a", ServiceAccountName: "sa",
			EnableServiceLinks: ptr.To(false),
			Containers: []corev1.Container{{
				Name: "app",
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
				},
			}},
		},
		Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.0.0.5"}, {IP: "fd00::5"}}},
	}
}

func objects() []runtime.Object {
	return []runtime.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "prod"},
			Data: map[string]string{"MODE": "fast", "bad=key": "x", "dotted.key-ok": "y", "URL": "http://svc"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "prod"},
			Data: map[string][]byte{"token": []byte("s3cret"), "USER": []byte("bob")}},
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		envFrom []corev1.EnvFromSource
		env     []corev1.EnvVar
		want    []string // NAME=value in order
		wantErr string
		warning string
	}{
		{
			name: "literal values and expansion against earlier vars",
			env: []corev1.EnvVar{
				{Name: "A", Value: "one"},
				{Name: "B", Value: "$(A)-two"},
				{Name: "C", Value: "$$(A) $(MISSING) $(D) $"},
				{Name: "D", Value: "late"},
			},
			want: []string{"A=one", "B=one-two", "C=$(A) $(MISSING) $(D) $", "D=late"},
		},
		{
			name: "envFrom with prefix, invalid keys skipped, env overrides",
			envFrom: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
				{Prefix: "S_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
			},
			env:     []corev1.EnvVar{{Name: "MODE", Value: "slow $(S_USER)"}},
			want:    []string{"MODE=slow bob", "URL=http://svc", "dotted.key-ok=y", "S_USER=bob", "S_token=s3cret"},
			warning: "InvalidEnvironmentVariableNames: Keys [bad=key] from the EnvFrom configMap prod/cfg were skipped since they are considered invalid environment variable names.",
		},
		{
			name:    "missing configmap",
			envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}},
			wantErr: `configmap "nope" not found`,
		},
		{
			name:    "missing optional secret",
			envFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Optional: ptr.To(true)}}},
			env:     []corev1.EnvVar{{Name: "X", Value: "1"}},
			want:    []string{"X=1"},
		},
		{
			name: "secret and configmap keys",
			env: []corev1.EnvVar{
				{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}},
				{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "MODE"}}},
				{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "none", Optional: ptr.To(true)}}},
				{Name: "OPT2", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "k", Optional: ptr.To(true)}}},
			},
			want: []string{"TOKEN=s3cret", "MODE=fast", "OPT=", "OPT2="},
		},
		{
			name:    "missing secret",
			env:     []corev1.EnvVar{{Name: "T", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gcp-credentials"}, Key: "k"}}}},
			wantErr: `secret "gcp-credentials" not found`,
		},
		{
			name:    "missing secret key",
			env:     []corev1.EnvVar{{Name: "T", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "k"}}}},
			wantErr: "couldn't find key k in Secret prod/creds",
		},
		{
			name:    "missing configmap key",
			env:     []corev1.EnvVar{{Name: "T", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "k"}}}},
			wantErr: "couldn't find key k in ConfigMap prod/cfg",
		},
		{
			name: "field references",
			env: []corev1.EnvVar{
				field("NAME", "metadata.name"), field("NS", "metadata.namespace"), field("UID", "metadata.uid"),
				field("APP", "metadata.labels['app']"), field("NOTE", "metadata.annotations['note']"),
				field("NODE", "spec.nodeName"), field("SA", "spec.serviceAccountName"),
				field("IP", "status.podIP"), field("IPS", "status.podIPs"),
				field("HOST", "status.hostIP"), field("HOSTS", "status.hostIPs"),
				field("LABELS", "metadata.labels"),
			},
			want: []string{"NAME=web-1", "NS=prod", "UID=uid-1", "APP=web", "NOTE=hi", "NODE=node-a", "SA=sa",
				"IP=10.0.0.5", "IPS=10.0.0.5,fd00::5", "HOST=192.168.1.2", "HOSTS=192.168.1.2",
				"LABELS=app=\"web\"\ntier=\"front\""},
		},
		{
			name: "resource references with divisors and node allocatable",
			env: []corev1.EnvVar{
				res("REQ_CPU", "requests.cpu", "1m"), res("REQ_CPU_CORES", "requests.cpu", ""),
				res("MEM_LIMIT", "limits.memory", "1Mi"), res("REQ_MEM", "requests.memory", ""),
				res("CPU_LIMIT", "limits.cpu", ""), res("EPH", "limits.ephemeral-storage", "1Gi"),
			},
			want: []string{"REQ_CPU=250", "REQ_CPU_CORES=1", "MEM_LIMIT=128", "REQ_MEM=67108864", "CPU_LIMIT=4", "EPH=20"},
		},
		{
			name:    "unsupported field",
			env:     []corev1.EnvVar{field("X", "spec.bogus")},
			wantErr: "unsupported fieldPath: spec.bogus",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(objects()...)
			pod := testPod()
			c := &pod.Spec.Containers[0]
			c.EnvFrom, c.Env = tt.envFrom, tt.env
			var warnings []string
			got, err := Resolve(context.Background(), client, pod, c, "10.0.0.5", "192.168.1.2",
				WithNodeAllocatable(corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"),
					corev1.ResourceEphemeralStorage: resource.MustParse("20Gi"),
				}),
				WithWarnings(func(reason, msg string) { warnings = append(warnings, reason+": "+msg) }))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, kv := range got {
				lines = append(lines, kv.Key+"="+string(kv.Value))
			}
			if strings.Join(lines, "|") != strings.Join(tt.want, "|") {
				t.Errorf("env =\n%q\nwant\n%q", lines, tt.want)
			}
			if strings.Join(warnings, "|") != tt.warning {
				t.Errorf("warnings = %q, want %q", warnings, tt.warning)
			}
		})
	}
}

func field(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

func res(name, r, divisor string) corev1.EnvVar {
	sel := &corev1.ResourceFieldSelector{Resource: r}
	if divisor != "" {
		sel.Divisor = resource.MustParse(divisor)
	}
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: sel}}
}

func TestResolveServiceLinks(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "model-api", Namespace: "prod"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "headless", Namespace: "prod"}, Spec: corev1.ServiceSpec{ClusterIP: "None"}},
	)
	tests := []struct {
		name       string
		links      *bool
		want, gone []string
	}{
		{"links on by default", nil,
			[]string{"KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443", "KUBERNETES_SERVICE_PORT_HTTPS=443",
				"KUBERNETES_PORT=tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1",
				"MODEL_API_SERVICE_HOST=10.96.0.20", "MODEL_API_PORT_80_TCP=tcp://10.96.0.20:80", "X=10.96.0.20"},
			[]string{"HEADLESS_SERVICE_HOST"}},
		{"links off keeps kubernetes", ptr.To(false),
			[]string{"KUBERNETES_SERVICE_HOST=10.96.0.1", "X=$(MODEL_API_SERVICE_HOST)"},
			[]string{"MODEL_API_SERVICE_HOST"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod()
			pod.Spec.EnableServiceLinks = tt.links
			c := &pod.Spec.Containers[0]
			c.Env = []corev1.EnvVar{{Name: "X", Value: "$(MODEL_API_SERVICE_HOST)"}}
			got, err := Resolve(context.Background(), client, pod, c, "", "")
			if err != nil {
				t.Fatal(err)
			}
			env := Map(got)
			for _, w := range tt.want {
				k, v, _ := strings.Cut(w, "=")
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			for _, k := range tt.gone {
				if _, ok := env[k]; ok {
					t.Errorf("%s set, want unset", k)
				}
			}
		})
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "x", "EMPTY": ""}
	tests := map[string]string{
		"plain":         "plain",
		"$(A)":          "x",
		"a$(A)b$(A)":    "axbx",
		"$$(A)":         "$(A)",
		"$$$(A)":        "$x",
		"$(B)":          "$(B)",
		"$(EMPTY)|":     "|",
		"$(A":           "$(A",
		"$A $":          "$A $",
		"$()":           "$()",
		"--port=$(A)$$": "--port=x$",
	}
	for in, want := range tests {
		if got := Expand(in, env); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolveWithoutClient(t *testing.T) {
	pod := testPod()
	c := &pod.Spec.Containers[0]
	c.Env = []corev1.EnvVar{{Name: "A", Value: "1"}, field("NAME", "metadata.name")}
	got, err := Resolve(context.Background(), nil, pod, c, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if env := Map(got); len(env) != 2 || env["A"] != "1" || env["NAME"] != "web-1" {
		t.Errorf("env = %v", env)
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: "S", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}})
	if _, err := Resolve(context.Background(), nil, pod, c, "", ""); err == nil {
		t.Error("secret reference resolved without a client")
	}
}
