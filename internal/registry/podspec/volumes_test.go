package podspec

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	api "k8s.io/kubernetes/pkg/apis/core"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/registry/upstream"
)

// projectedSpec is a valid spec with a projected volume of sources as
// volumes[1].
func projectedSpec(sources ...corev1.VolumeProjection) corev1.PodSpec {
	spec := validSpec()
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "cert", VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{Sources: sources, DefaultMode: ptr.To(int32(0o644))},
	}})
	return spec
}

func podCertificate(mutate func(c *corev1.PodCertificateProjection)) corev1.VolumeProjection {
	c := &corev1.PodCertificateProjection{SignerName: "example.com/model-signer", KeyType: "ED25519", CredentialBundlePath: "credentials.pem"}
	if mutate != nil {
		mutate(c)
	}
	return corev1.VolumeProjection{PodCertificate: c}
}

func TestValidateProjectedPodCertificate(t *testing.T) {
	const src = "spec.volumes[1].projected.sources[0].podCertificate"
	tests := []struct {
		name string
		spec corev1.PodSpec
		want []string
	}{
		{"valid", projectedSpec(podCertificate(nil)), nil},
		{"valid with every file and a lifetime", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) {
			c.KeyPath, c.CertificateChainPath, c.MaxExpirationSeconds = "tls.key", "tls.crt", ptr.To(int32(86400))
			c.UserAnnotations = map[string]string{"example.com/team": "models"}
		})), nil},
		{"no signer", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) { c.SignerName = "" })),
			[]string{src + ".signerName: Required value"}},
		{"signer without a path", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) { c.SignerName = "example.com" })),
			[]string{src + `.signerName: Invalid value: "example.com": must be a fully qualified domain and path of the form 'example.com/signer-name'`}},
		{"signer domain of one label", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) { c.SignerName = "example/signer" })),
			[]string{src + `.signerName: Invalid value: "example": should be a domain with at least two segments separated by dots`}},
		{"unknown key type", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) { c.KeyType = "DSA" })),
			[]string{src + `.keyType: Unsupported value: "DSA": supported values: "RSA3072", "RSA4096", "ECDSAP256", "ECDSAP384", "ECDSAP521", "ED25519"`}},
		{"no key type", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) { c.KeyType = "" })),
			[]string{src + `.keyType: Unsupported value: "": supported values: "RSA3072", "RSA4096", "ECDSAP256", "ECDSAP384", "ECDSAP521", "ED25519"`}},
		{"lifetime under an hour", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) { c.MaxExpirationSeconds = ptr.To(int32(3599)) })),
			[]string{src + ".maxExpirationSeconds: Invalid value: 3599: if provided, maxExpirationSeconds must be >= 3600"}},
		{"lifetime over 91 days", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) { c.MaxExpirationSeconds = ptr.To(int32(91*86400 + 1)) })),
			[]string{src + ".maxExpirationSeconds: Invalid value: 7862401: if provided, maxExpirationSeconds must be <= 7862400"}},
		{"kubernetes.io signer: lifetime over a day", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) {
			c.SignerName, c.MaxExpirationSeconds = "kubernetes.io/kube-apiserver-client-pod", ptr.To(int32(86401))
		})), []string{src + ".maxExpirationSeconds: Invalid value: 86401: if provided, maxExpirationSeconds must be <= 86400"}},
		{"subdomain of kubernetes.io: lifetime over a day", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) {
			c.SignerName, c.MaxExpirationSeconds = "beta.kubernetes.io/signer", ptr.To(int32(2*86400))
		})), []string{src + ".maxExpirationSeconds: Invalid value: 172800: if provided, maxExpirationSeconds must be <= 86400"}},
		{"no file", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) { c.CredentialBundlePath = "" })),
			[]string{src + ": Required value: specify at least one of credentialBundlePath, keyPath, and certificateChainPath"}},
		{"paths outside the volume", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) {
			c.CredentialBundlePath, c.KeyPath, c.CertificateChainPath = "/etc/creds.pem", "../tls.key", "..tls.crt"
		})), []string{
			src + `.credentialBundlePath: Invalid value: "/etc/creds.pem": must be a relative path`,
			src + `.keyPath: Invalid value: "../tls.key": must not contain '..'`,
			src + `.certificateChainPath: Invalid value: "..tls.crt": must not start with '..'`,
		}},
		{"key and chain in one file", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) {
			c.CredentialBundlePath, c.KeyPath, c.CertificateChainPath = "", "tls.pem", "tls.pem"
		})), []string{`spec.volumes[1].projected: Invalid value: "tls.pem": conflicting duplicate paths`}},
		{"a path another source writes", projectedSpec(
			corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "ca"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "credentials.pem"}},
			}},
			podCertificate(nil),
		), []string{`spec.volumes[1].projected: Invalid value: "credentials.pem": conflicting duplicate paths`}},
		{"a later source writes the certificate's path", projectedSpec(
			podCertificate(nil),
			corev1.VolumeProjection{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{SignerName: ptr.To("example.com/model-signer"), Path: "credentials.pem"}},
		), []string{`spec.volumes[1].projected: Invalid value: "credentials.pem": conflicting duplicate paths`}},
		{"user annotation without a domain", projectedSpec(podCertificate(func(c *corev1.PodCertificateProjection) {
			c.UserAnnotations = map[string]string{"team": "models"}
		})), []string{src + `.userAnnotations: Invalid value: "team": must be a domain-prefixed key (such as "acme.io/foo")`}},
		{"with a second source type", projectedSpec(corev1.VolumeProjection{
			PodCertificate: podCertificate(nil).PodCertificate,
			DownwardAPI:    &corev1.DownwardAPIProjection{},
		}), []string{"spec.volumes[1].projected.sources[0]: Forbidden: may not specify more than 1 volume type per source"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorStrings(ValidatePodSpec(&tt.spec, field.NewPath("spec")))
			if len(got) != 0 || len(tt.want) != 0 {
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
				}
			}
			if up := upstreamVolumeErrors(t, &tt.spec); !reflect.DeepEqual(up, tt.want) && (len(up) != 0 || len(tt.want) != 0) {
				t.Errorf("Kubernetes' own validation disagrees with the expectation:\n kubernetes %q\n       want %q", up, tt.want)
			}
		})
	}
}

func TestValidateProjectedClusterTrustBundle(t *testing.T) {
	const src = "spec.volumes[1].projected.sources[0].clusterTrustBundle"
	bundle := func(b corev1.ClusterTrustBundleProjection) corev1.PodSpec {
		if b.Path == "" {
			b.Path = "ca.pem"
		}
		return projectedSpec(corev1.VolumeProjection{ClusterTrustBundle: &b})
	}
	tests := []struct {
		name string
		spec corev1.PodSpec
		want []string
	}{
		{"by name", bundle(corev1.ClusterTrustBundleProjection{Name: ptr.To("ca")}), nil},
		{"by signer name", bundle(corev1.ClusterTrustBundleProjection{SignerName: ptr.To("example.com/model-signer")}), nil},
		{"by a signer's bundle name", bundle(corev1.ClusterTrustBundleProjection{Name: ptr.To("example.com:model-signer:ca")}), nil},
		{"neither", bundle(corev1.ClusterTrustBundleProjection{}),
			[]string{src + ": Required value: either name or signerName must be specified"}},
		{"a signer's bundle name with nothing after the signer", bundle(corev1.ClusterTrustBundleProjection{Name: ptr.To("example.com:ca:")}),
			[]string{src + `.name: Invalid value: "example.com:ca:": not a valid clustertrustbundlename: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"name and selector", bundle(corev1.ClusterTrustBundleProjection{Name: ptr.To("ca"), LabelSelector: &metav1.LabelSelector{}}),
			[]string{src + ".labelSelector: Invalid value: {}: labelSelector must be unset if name is specified"}},
		{"bad signer name", bundle(corev1.ClusterTrustBundleProjection{SignerName: ptr.To("ca")}),
			[]string{src + `.signerName: Invalid value: "ca": must be a fully qualified domain and path of the form 'example.com/signer-name'`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorStrings(ValidatePodSpec(&tt.spec, field.NewPath("spec")))
			if (len(got) != 0 || len(tt.want) != 0) && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
			if up := upstreamVolumeErrors(t, &tt.spec); (len(up) != 0 || len(tt.want) != 0) && !reflect.DeepEqual(up, tt.want) {
				t.Errorf("Kubernetes' own validation disagrees with the expectation:\n kubernetes %q\n       want %q", up, tt.want)
			}
		})
	}
}

// upstreamVolumeErrors is what Kubernetes' own pod spec validation says
// about the spec's volumes, so that the expectations above are Kubernetes'
// and not only ours.
func upstreamVolumeErrors(t *testing.T, spec *corev1.PodSpec) []string {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: *spec}
	in, err := upstream.Internal(pod, &api.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range corevalidation.ValidatePodSpec(&in.Spec, &in.ObjectMeta, field.NewPath("spec"), corevalidation.PodValidationOptions{}) {
		if strings.HasPrefix(e.Field, "spec.volumes") {
			out = append(out, e.Error())
		}
	}
	return out
}
