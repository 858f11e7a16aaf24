package serviceaccount

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

const vol = "kube-api-access-abcde"

func tokenMount() corev1.VolumeMount {
	return corev1.VolumeMount{Name: vol, ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}
}

func testPlugin(t *testing.T, sas ...*corev1.ServiceAccount) *Plugin {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, sa := range sas {
		if err := indexer.Add(sa); err != nil {
			t.Fatal(err)
		}
	}
	return &Plugin{
		Handler: admission.NewHandler(admission.Create), lister: corelisters.NewServiceAccountLister(indexer),
		client: fake.NewClientset(), generateName: func(prefix string) string { return prefix + "abcde" },
	}
}

func attrs(pod *corev1.Pod) admission.Attributes {
	return admission.NewAttributesRecord(pod, nil, corev1.SchemeGroupVersion.WithKind("Pod"), "team-a", pod.Name,
		corev1.Resource("pods").WithVersion("v1"), "", admission.Create, &metav1.CreateOptions{}, false, &user.DefaultInfo{})
}

func TestAdmit(t *testing.T) {
	def := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "default"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}}}
	noMount := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "quiet"}, AutomountServiceAccountToken: ptr.To(false)}
	withVolume := corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{Projected: TokenVolumeSource()}}
	for _, tc := range []struct {
		name      string
		spec      corev1.PodSpec
		annotated bool
		want      corev1.PodSpec
		forbidden string
	}{{
		name: "default service account, token in every container",
		spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "init"}}, Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
		want: corev1.PodSpec{
			ServiceAccountName: "default", DeprecatedServiceAccount: "default",
			InitContainers:   []corev1.Container{{Name: "init", VolumeMounts: []corev1.VolumeMount{tokenMount()}}},
			Containers:       []corev1.Container{{Name: "a", VolumeMounts: []corev1.VolumeMount{tokenMount()}}, {Name: "b", VolumeMounts: []corev1.VolumeMount{tokenMount()}}},
			Volumes:          []corev1.Volume{withVolume},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}},
		},
	}, {
		name: "pod says no",
		spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false), ImagePullSecrets: []corev1.LocalObjectReference{{Name: "mine"}}, Containers: []corev1.Container{{Name: "a"}}},
		want: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false), ServiceAccountName: "default", DeprecatedServiceAccount: "default",
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "mine"}}, Containers: []corev1.Container{{Name: "a"}}},
	}, {
		name: "service account says no",
		spec: corev1.PodSpec{ServiceAccountName: "quiet", Containers: []corev1.Container{{Name: "a"}}},
		want: corev1.PodSpec{ServiceAccountName: "quiet", Containers: []corev1.Container{{Name: "a"}}},
	}, {
		name: "pod says yes over the service account",
		spec: corev1.PodSpec{ServiceAccountName: "quiet", AutomountServiceAccountToken: ptr.To(true), Containers: []corev1.Container{{Name: "a"}}},
		want: corev1.PodSpec{ServiceAccountName: "quiet", AutomountServiceAccountToken: ptr.To(true),
			Containers: []corev1.Container{{Name: "a", VolumeMounts: []corev1.VolumeMount{tokenMount()}}}, Volumes: []corev1.Volume{withVolume}},
	}, {
		name: "a container mounting something there keeps it",
		spec: corev1.PodSpec{ServiceAccountName: "quiet", AutomountServiceAccountToken: ptr.To(true), Containers: []corev1.Container{
			{Name: "a", VolumeMounts: []corev1.VolumeMount{{Name: "own", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}}}},
		want: corev1.PodSpec{ServiceAccountName: "quiet", AutomountServiceAccountToken: ptr.To(true), Containers: []corev1.Container{
			{Name: "a", VolumeMounts: []corev1.VolumeMount{{Name: "own", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}}}},
	}, {
		name:      "missing service account",
		spec:      corev1.PodSpec{ServiceAccountName: "ghost", Containers: []corev1.Container{{Name: "a"}}},
		forbidden: `pods "web" is forbidden: error looking up service account team-a/ghost: serviceaccount "ghost" not found`,
	}, {
		name: "mirror pod untouched", annotated: true,
		spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
		want: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web"}, Spec: tc.spec}
			if tc.annotated {
				pod.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
			}
			p := testPlugin(t, def, noMount)
			err := p.Admit(context.Background(), attrs(pod), nil)
			if err == nil {
				err = p.Validate(context.Background(), attrs(pod), nil)
			}
			if tc.forbidden != "" {
				if !apierrors.IsForbidden(err) || err.Error() != tc.forbidden {
					t.Fatalf("admission: %v, want forbidden %q", err, tc.forbidden)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, pod.Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateMirrorPod(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "static", Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "x"}},
		Spec: corev1.PodSpec{ServiceAccountName: "default"}}
	err := testPlugin(t).Validate(context.Background(), attrs(pod), nil)
	if !apierrors.IsForbidden(err) {
		t.Errorf("mirror pod with a service account: %v, want forbidden", err)
	}
}

func TestTokenVolumeSource(t *testing.T) {
	src := TokenVolumeSource()
	if *src.DefaultMode != 0o644 || *src.Sources[0].ServiceAccountToken.ExpirationSeconds != 3607 || src.Sources[0].ServiceAccountToken.Path != "token" ||
		src.Sources[1].ConfigMap.Name != "kube-root-ca.crt" || src.Sources[1].ConfigMap.Items[0].Path != "ca.crt" ||
		src.Sources[2].DownwardAPI.Items[0].Path != "namespace" || src.Sources[2].DownwardAPI.Items[0].FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("token volume %+v", src)
	}
}
