// Package serviceaccount is kube-apiserver's ServiceAccount admission: a
// new pod runs as the "default" service account unless it names one, is
// refused unless that service account exists, takes the service account's
// imagePullSecrets when it has none, and, unless automountServiceAccountToken
// is false on the pod or the service account, gets the projected
// kube-api-access-xxxxx volume (a bound token, the cluster CA, the
// namespace) mounted read-only at
// /var/run/secrets/kubernetes.io/serviceaccount in every container and init
// container.
package serviceaccount

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/storage/names"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"

	"skiff.dev/skiff/internal/wellknown"
)

// PluginName is the plugin's name in kube-apiserver's
// --enable-admission-plugins.
const PluginName = "ServiceAccount"

// TokenExpirationSeconds is the lifetime the injected token projection
// asks for: an hour and 7 seconds, as kube-apiserver's admission writes it
// (the 7 seconds mark tokens the admission asked for).
const TokenExpirationSeconds = 60*60 + 7

// Plugin is the admission plugin.
type Plugin struct {
	*admission.Handler
	lister corelisters.ServiceAccountLister
	client kubernetes.Interface
	// generateName names the token volume; names.SimpleNameGenerator.
	generateName func(prefix string) string
}

var (
	_ admission.MutationInterface   = &Plugin{}
	_ admission.ValidationInterface = &Plugin{}
)

// New returns the plugin, reading service accounts from informer (ready
// once it has synced) and, for one not seen yet, from client.
func New(informer coreinformers.ServiceAccountInformer, client kubernetes.Interface) *Plugin {
	p := &Plugin{
		Handler: admission.NewHandler(admission.Create), lister: informer.Lister(), client: client,
		generateName: names.SimpleNameGenerator.GenerateName,
	}
	p.SetReadyFunc(informer.Informer().HasSynced)
	return p
}

func handles(a admission.Attributes) (*corev1.Pod, bool) {
	if a.GetResource().GroupResource() != corev1.Resource("pods") || a.GetSubresource() != "" {
		return nil, false
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	return pod, ok
}

func isMirror(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}

// Admit defaults the service account and mounts its token.
func (p *Plugin) Admit(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	pod, ok := handles(a)
	if !ok || isMirror(pod) {
		return nil
	}
	if !p.WaitForReady() {
		return admission.NewForbidden(a, fmt.Errorf("not yet ready to handle request"))
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = wellknown.DefaultServiceAccountName
		pod.Spec.DeprecatedServiceAccount = wellknown.DefaultServiceAccountName //nolint:staticcheck // kept in sync, as Kubernetes does
	}
	sa, err := p.serviceAccount(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	if Automount(sa, pod) {
		MountToken(pod, p.generateName(wellknown.ServiceAccountVolumePrefix))
	}
	if len(pod.Spec.ImagePullSecrets) == 0 {
		for _, s := range sa.ImagePullSecrets {
			pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s.Name})
		}
	}
	return nil
}

// Validate refuses pods whose service account does not exist, and mirror
// pods that reference service accounts or their tokens.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	pod, ok := handles(a)
	if !ok {
		return nil
	}
	if isMirror(pod) {
		if pod.Spec.ServiceAccountName != "" {
			return admission.NewForbidden(a, fmt.Errorf("a mirror pod may not reference service accounts"))
		}
		for _, v := range pod.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for _, src := range v.Projected.Sources {
				if src.ServiceAccountToken != nil {
					return admission.NewForbidden(a, fmt.Errorf("a mirror pod may not use ServiceAccountToken volume projections"))
				}
			}
		}
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		return admission.NewForbidden(a, fmt.Errorf("no service account specified for pod %s/%s", a.GetNamespace(), pod.Name))
	}
	if _, err := p.serviceAccount(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName); err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	return nil
}

// serviceAccount reads the service account from the informer, else from
// the API; the default one, which the controller is about to create in a
// new namespace, is asked for up to 10 times, as kube-apiserver does.
func (p *Plugin) serviceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	sa, err := p.lister.ServiceAccounts(namespace).Get(name)
	if err == nil {
		return sa, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	attempts := 1
	if name == wellknown.DefaultServiceAccountName {
		attempts = 10
	}
	retry := time.Duration(100+rand.IntN(100)) * time.Millisecond
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(retry):
			}
		}
		sa, err := p.client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			return sa, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccount"), name)
}

// Automount reports whether the pod gets its service account's token: the
// pod's automountServiceAccountToken, else the service account's, else
// true.
func Automount(sa *corev1.ServiceAccount, pod *corev1.Pod) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// MountToken mounts the token volume read-only at
// wellknown.ServiceAccountMountPath in every container and init container
// that mounts nothing there, adding the volume (named name unless the pod
// has a kube-api-access- volume already) when one does.
func MountToken(pod *corev1.Pod, name string) {
	hasVolume := false
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, wellknown.ServiceAccountVolumePrefix) {
			name, hasVolume = v.Name, true
			break
		}
	}
	mount := corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: wellknown.ServiceAccountMountPath}
	needed := false
	for _, containers := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range containers {
			if mountsAt(&containers[i], wellknown.ServiceAccountMountPath) {
				continue
			}
			containers[i].VolumeMounts = append(containers[i].VolumeMounts, mount)
			needed = true
		}
	}
	if needed && !hasVolume {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: TokenVolumeSource()}})
	}
}

func mountsAt(c *corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

// TokenVolumeSource is the projected volume kube-apiserver's admission
// adds: the token, the cluster CA and the namespace, mode 0644.
func TokenVolumeSource() *corev1.ProjectedVolumeSource {
	expiration, mode := int64(TokenExpirationSeconds), int32(corev1.ProjectedVolumeSourceDefaultMode)
	return &corev1.ProjectedVolumeSource{
		DefaultMode: &mode,
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: &expiration, Path: wellknown.ServiceAccountTokenPath}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: wellknown.RootCAConfigMapName},
				Items:                []corev1.KeyToPath{{Key: wellknown.RootCAKey, Path: wellknown.RootCAKey}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path: wellknown.NamespacePath, FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
			}}}},
		},
	}
}
