package podspec

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestSetDefaultsPodSpec(t *testing.T) {
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:  "model",
			Image: "registry.example.com/model:v1",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
			Env: []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
			}}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8080)},
			}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}},
		}},
		Volumes: []corev1.Volume{
			{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gcp-credentials"}}},
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
			{Name: "scratch"},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}}},
		},
	}
	SetDefaultsPodSpec(&spec)

	if spec.RestartPolicy != corev1.RestartPolicyAlways || spec.DNSPolicy != corev1.DNSClusterFirst ||
		spec.SchedulerName != "default-scheduler" || *spec.TerminationGracePeriodSeconds != 30 || spec.SecurityContext == nil {
		t.Errorf("pod-level defaults: %+v", spec)
	}
	if spec.EnableServiceLinks != nil {
		t.Errorf("enableServiceLinks is a Pod-only default, got %v on a spec", *spec.EnableServiceLinks)
	}
	c := spec.Containers[0]
	if c.TerminationMessagePath != "/dev/termination-log" || c.TerminationMessagePolicy != corev1.TerminationMessageReadFile ||
		c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("container defaults: %+v", c)
	}
	if c.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("port protocol = %q", c.Ports[0].Protocol)
	}
	if c.Env[0].ValueFrom.FieldRef.APIVersion != "v1" {
		t.Errorf("fieldRef apiVersion = %q", c.Env[0].ValueFrom.FieldRef.APIVersion)
	}
	if _, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		t.Errorf("requests copied from limits on a spec; Kubernetes does that for Pods only")
	}
	lp := c.LivenessProbe
	if lp.TimeoutSeconds != 1 || lp.PeriodSeconds != 10 || lp.SuccessThreshold != 1 || lp.FailureThreshold != 3 || lp.HTTPGet.Scheme != corev1.URISchemeHTTP {
		t.Errorf("probe defaults: %+v", lp)
	}
	if s := c.ReadinessProbe.GRPC.Service; s == nil || *s != "" {
		t.Errorf("grpc service default: %v", s)
	}
	if *spec.Volumes[0].Secret.DefaultMode != 0644 || *spec.Volumes[1].ConfigMap.DefaultMode != 0644 {
		t.Errorf("volume default modes")
	}
	if spec.Volumes[2].EmptyDir == nil || spec.Volumes[2].EmptyDir.Medium != "" {
		t.Errorf("volume without a type should become an emptyDir: %+v", spec.Volumes[2])
	}
	if ty := spec.Volumes[3].HostPath.Type; ty == nil || *ty != corev1.HostPathUnset {
		t.Errorf("hostPath type: %v", ty)
	}
}

func TestSetDefaultsPod(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		HostNetwork: true,
		Containers: []corev1.Container{{
			Name: "c", Image: "nginx",
			Ports: []corev1.ContainerPort{{ContainerPort: 80}},
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
			},
		}},
	}}
	SetDefaultsPod(pod)
	c := pod.Spec.Containers[0]
	if got := c.Resources.Requests[corev1.ResourceMemory]; got.String() != "1Gi" {
		t.Errorf("memory request = %s, want the limit", got.String())
	}
	if got := c.Resources.Requests[corev1.ResourceCPU]; got.String() != "250m" {
		t.Errorf("cpu request = %s, want the given 250m", got.String())
	}
	if pod.Spec.EnableServiceLinks == nil || !*pod.Spec.EnableServiceLinks {
		t.Errorf("enableServiceLinks not defaulted to true")
	}
	if c.Ports[0].HostPort != 80 {
		t.Errorf("hostNetwork hostPort = %d", c.Ports[0].HostPort)
	}
	if c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("image without tag: pull policy %q", c.ImagePullPolicy)
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                       corev1.PullAlways,
		"nginx:latest":                corev1.PullAlways,
		"docker.io/library/nginx:1.2": corev1.PullIfNotPresent,
		"localhost:5000/model":        corev1.PullAlways,
		"localhost:5000/model:v2":     corev1.PullIfNotPresent,
		"nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef":        corev1.PullIfNotPresent,
		"nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": corev1.PullAlways,
		"Not A Valid Ref": corev1.PullIfNotPresent,
	} {
		if got := defaultPullPolicy(image); got != want {
			t.Errorf("%q: pull policy %q, want %q", image, got, want)
		}
	}
}

func TestRoundResources(t *testing.T) {
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i", Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.0001")},
	}}}}
	SetDefaultsPodSpec(&spec)
	if got := spec.Containers[0].Resources.Requests[corev1.ResourceCPU]; got.String() != "1m" {
		t.Errorf("cpu 0.0001 rounds to %s, want 1m", got.String())
	}
}

// validSpec returns a defaulted pod spec that passes validation.
func validSpec() corev1.PodSpec {
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "model", Image: "model:v1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "creds", MountPath: "/var/secrets", ReadOnly: true}},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString("http")},
			}},
		}},
		Volumes: []corev1.Volume{{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gcp-credentials"}}}},
	}
	SetDefaultsPodSpec(&spec)
	return spec
}

func errorStrings(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestValidatePodSpec(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *corev1.PodSpec)
		want   []string
	}{
		{"valid", func(*corev1.PodSpec) {}, nil},
		{"no containers", func(s *corev1.PodSpec) { s.Containers = nil },
			[]string{"spec.containers: Required value"}},
		{"request above limit", func(s *corev1.PodSpec) {
			s.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1")
		}, []string{`spec.containers[0].resources.requests: Invalid value: "1": must be less than or equal to cpu limit of 500m`}},
		{"negative quantity", func(s *corev1.PodSpec) {
			s.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("-1")
		}, []string{`spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater than or equal to 0`}},
		{"gpu request without limit", func(s *corev1.PodSpec) {
			s.Containers[0].Resources.Requests["nvidia.com/gpu"] = resource.MustParse("1")
		}, []string{"spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"}},
		{"bad container name", func(s *corev1.PodSpec) { s.Containers[0].Name = "Model_1" },
			[]string{`spec.containers[0].name: Invalid value: "Model_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		{"duplicate container name", func(s *corev1.PodSpec) {
			s.Containers = append(s.Containers, s.Containers[0])
			s.Containers[1].Ports = nil
		}, []string{`spec.containers[1].name: Duplicate value: "model"`}},
		{"no image", func(s *corev1.PodSpec) { s.Containers[0].Image = "" },
			[]string{"spec.containers[0].image: Required value"}},
		{"port out of range", func(s *corev1.PodSpec) { s.Containers[0].Ports[0].ContainerPort = 70000 },
			[]string{"spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{"bad port name", func(s *corev1.PodSpec) { s.Containers[0].Ports[0].Name = "http_port" },
			[]string{`spec.containers[0].ports[0].name: Invalid value: "http_port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`}},
		{"env valueFrom empty", func(s *corev1.PodSpec) {
			s.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{}}}
		}, []string{"spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"}},
		{"env two sources", func(s *corev1.PodSpec) {
			s.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "a"}, Key: "k"},
				SecretKeyRef:    &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "b"}, Key: "k"},
			}}}
		}, []string{`spec.containers[0].env[0].valueFrom: Invalid value: "": may not have more than one field specified at a time`}},
		{"env name with =", func(s *corev1.PodSpec) { s.Containers[0].Env = []corev1.EnvVar{{Name: "A=B"}} },
			[]string{`spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`}},
		{"probe with two handlers", func(s *corev1.PodSpec) {
			s.Containers[0].LivenessProbe.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}
		}, []string{"spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"}},
		{"probe without handler", func(s *corev1.PodSpec) {
			s.Containers[0].LivenessProbe.HTTPGet = nil
		}, []string{"spec.containers[0].livenessProbe: Required value: must specify a handler type"}},
		{"liveness success threshold", func(s *corev1.PodSpec) { s.Containers[0].LivenessProbe.SuccessThreshold = 2 },
			[]string{"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"}},
		{"restart policy", func(s *corev1.PodSpec) { s.RestartPolicy = "Sometimes" },
			[]string{`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`}},
		{"dns policy", func(s *corev1.PodSpec) { s.DNSPolicy = "Cluster" },
			[]string{`spec.dnsPolicy: Unsupported value: "Cluster": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"`}},
		{"duplicate volume", func(s *corev1.PodSpec) { s.Volumes = append(s.Volumes, s.Volumes[0]) },
			[]string{`spec.volumes[1].name: Duplicate value: "creds"`}},
		{"mount of unknown volume", func(s *corev1.PodSpec) { s.Containers[0].VolumeMounts[0].Name = "data" },
			[]string{`spec.containers[0].volumeMounts[0].name: Not found: "data"`}},
		{"two volume types", func(s *corev1.PodSpec) { s.Volumes[0].EmptyDir = &corev1.EmptyDirVolumeSource{} },
			[]string{"spec.volumes[0].secret: Forbidden: may not specify more than 1 volume type",
				`spec.containers[0].volumeMounts[0].name: Not found: "creds"`}},
		{"missing grace period", func(s *corev1.PodSpec) { s.TerminationGracePeriodSeconds = nil },
			[]string{"spec.terminationGracePeriodSeconds: Required value"}},
		{"toleration", func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpEqual, Value: "x"}}
		}, []string{"spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\""}},
		{"init container probe", func(s *corev1.PodSpec) {
			s.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", TerminationMessagePolicy: "File", ImagePullPolicy: "Always",
				ReadinessProbe: &corev1.Probe{}}}
		}, []string{"spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"}},
		{"active deadline", func(s *corev1.PodSpec) { d := int64(0); s.ActiveDeadlineSeconds = &d },
			[]string{"spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"}},
		{"node selector", func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"gpu": "a b"} },
			[]string{`spec.nodeSelector: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := validSpec()
			tt.mutate(&spec)
			got := errorStrings(ValidatePodSpec(&spec, field.NewPath("spec")))
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidatePodSpecForPod(t *testing.T) {
	spec := validSpec()
	spec.HostNetwork = true
	spec.Containers[0].Image = " model:v1"
	opts := Options{ResourceIsPod: true, PodMeta: &metav1.ObjectMeta{Name: "p"}}
	got := errorStrings(ValidatePodSpecWithOptions(&spec, field.NewPath("spec"), opts))
	want := []string{
		"spec.containers[0].ports[0].hostPort: Invalid value: 0: must match `containerPort` when `hostNetwork` is true",
		`spec.containers[0].image: Invalid value: " model:v1": must not have leading or trailing whitespace`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
	// A template may leave hostPort to be defaulted in the Pods.
	if errs := ValidatePodSpec(&spec, field.NewPath("spec")); len(errs) != 0 {
		t.Errorf("template errors: %v", errs)
	}
}

func TestValidatePodTemplateSpec(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "-bad"}},
		Spec:       validSpec(),
	}
	got := errorStrings(ValidatePodTemplateSpec(tmpl, field.NewPath("spec", "template")))
	if len(got) != 1 || !strings.HasPrefix(got[0], `spec.template.labels: Invalid value: "-bad": a valid label must`) {
		t.Errorf("errors: %q", got)
	}
	tmpl.Labels = map[string]string{"app": "model"}
	tmpl.Spec.Containers = nil
	got = errorStrings(ValidatePodTemplateSpec(tmpl, field.NewPath("spec", "template")))
	if want := []string{"spec.template.spec.containers: Required value"}; !reflect.DeepEqual(got, want) {
		t.Errorf("errors: %q, want %q", got, want)
	}
}

func TestComputeQOSClass(t *testing.T) {
	res := func(req, lim string) corev1.ResourceRequirements {
		r := corev1.ResourceRequirements{}
		if req != "" {
			r.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req), corev1.ResourceMemory: resource.MustParse(req + "Mi")}
		}
		if lim != "" {
			r.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(lim), corev1.ResourceMemory: resource.MustParse(lim + "Mi")}
		}
		return r
	}
	for _, tt := range []struct {
		name string
		r    corev1.ResourceRequirements
		want corev1.PodQOSClass
	}{
		{"none", res("", ""), corev1.PodQOSBestEffort},
		{"equal", res("1", "1"), corev1.PodQOSGuaranteed},
		{"below", res("1", "2"), corev1.PodQOSBurstable},
		{"requests only", res("1", ""), corev1.PodQOSBurstable},
	} {
		spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: tt.r}}}
		if got := ComputeQOSClass(&spec); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestWarnings(t *testing.T) {
	spec := validSpec()
	g := int64(-5)
	spec.TerminationGracePeriodSeconds = &g
	spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1.5")
	got := Warnings(&spec, field.NewPath("spec", "template", "spec"))
	want := []string{
		"spec.template.spec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be treated as 1",
		`spec.template.spec.containers[0].resources.limits[memory]: fractional byte value "1500m" is invalid, must be an integer`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n got %q\nwant %q", got, want)
	}
}
