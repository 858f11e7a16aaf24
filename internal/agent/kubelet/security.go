package kubelet

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/kubernetes/pkg/kubelet/util/format"
	"k8s.io/kubernetes/pkg/securitycontext"
	"k8s.io/utils/ptr"
)

// imageUser is who an image runs as, as its runtime reports it
// (runtimeapi.Image's Uid and Username).
type imageUser struct {
	uid      *int64
	username string
}

// imageUserOf reads the user from an ImageStatus answer: an image that
// names none runs as root.
func imageUserOf(img *runtimeapi.Image) imageUser {
	switch {
	case img.GetUid() != nil:
		return imageUser{uid: ptr.To(img.GetUid().Value)}
	case img.GetUsername() != "":
		return imageUser{username: img.GetUsername()}
	}
	return imageUser{uid: ptr.To[int64](0)}
}

// containerSecurityContext decides the CRI security context of container c
// of pod, as the kubelet does: the container's securityContext over the
// pod's, the image's user where neither names one, fsGroup and
// supplementalGroups as supplementary groups, no_new_privs unless the
// container may escalate, the pod's namespaces, and the seccomp profile
// (localhost profiles under seccompRoot). An error is the container's
// CreateContainerConfigError message (runAsNonRoot that cannot hold).
func containerSecurityContext(pod *corev1.Pod, c *corev1.Container, image imageUser, seccompRoot string) (*runtimeapi.LinuxContainerSecurityContext, error) {
	if err := verifyRunAsNonRoot(pod, c, image); err != nil {
		return nil, err
	}
	sc := securitycontext.DetermineEffectiveSecurityContext(pod, c)
	out := &runtimeapi.LinuxContainerSecurityContext{
		NamespaceOptions: namespaceOptions(pod),
		NoNewPrivs:       securitycontext.AddNoNewPrivileges(sc),
		MaskedPaths:      securitycontext.ConvertToRuntimeMaskedPaths(sc.ProcMount),
		ReadonlyPaths:    securitycontext.ConvertToRuntimeReadonlyPaths(sc.ProcMount),
		Privileged:       ptr.Deref(sc.Privileged, false),
		ReadonlyRootfs:   ptr.Deref(sc.ReadOnlyRootFilesystem, false),
	}
	if caps := sc.Capabilities; caps != nil {
		out.Capabilities = &runtimeapi.Capability{AddCapabilities: []string{}, DropCapabilities: []string{}}
		for _, a := range caps.Add {
			out.Capabilities.AddCapabilities = append(out.Capabilities.AddCapabilities, string(a))
		}
		for _, d := range caps.Drop {
			out.Capabilities.DropCapabilities = append(out.Capabilities.DropCapabilities, string(d))
		}
	}
	if sc.RunAsUser != nil {
		out.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
	} else {
		if image.uid != nil {
			out.RunAsUser = &runtimeapi.Int64Value{Value: *image.uid}
		}
		out.RunAsUsername = image.username
	}
	if sc.RunAsGroup != nil {
		out.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
	}
	groups, policy, err := supplementalGroups(pod.Spec.SecurityContext)
	if err != nil {
		return nil, err
	}
	out.SupplementalGroups, out.SupplementalGroupsPolicy = groups, policy
	var podProfile *corev1.SeccompProfile
	if pod.Spec.SecurityContext != nil {
		podProfile = pod.Spec.SecurityContext.SeccompProfile
	}
	var containerProfile *corev1.SeccompProfile
	if c.SecurityContext != nil {
		containerProfile = c.SecurityContext.SeccompProfile
	}
	if out.Seccomp, err = seccompProfile(containerProfile, podProfile, seccompRoot); err != nil {
		return nil, err
	}
	return out, nil
}

// sandboxSecurityContext is the CRI security context of the pod's
// sandbox: its namespaces, the pod's user, groups and seccomp profile, and
// privileged when any of its containers is (a runtime refuses a
// privileged container in an unprivileged sandbox).
func sandboxSecurityContext(pod *corev1.Pod, seccompRoot string) *runtimeapi.LinuxSandboxSecurityContext {
	out := &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: namespaceOptions(pod), Privileged: hasPrivileged(pod)}
	psc := pod.Spec.SecurityContext
	if psc == nil {
		return out
	}
	if psc.RunAsUser != nil {
		out.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
	}
	if psc.RunAsGroup != nil {
		out.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
	}
	// Errors were the containers' to report.
	out.SupplementalGroups, out.SupplementalGroupsPolicy, _ = supplementalGroups(psc)
	out.Seccomp, _ = seccompProfile(nil, psc.SeccompProfile, seccompRoot)
	return out
}

// namespaceOptions are the pod's network, PID and IPC namespaces: the
// node's when it asks for hostNetwork, hostPID, hostIPC; a PID namespace
// per container unless it shares one.
func namespaceOptions(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	network := runtimeapi.NamespaceMode_POD
	if pod.Spec.HostNetwork {
		network = runtimeapi.NamespaceMode_NODE
	}
	pid := runtimeapi.NamespaceMode_CONTAINER
	if ptr.Deref(pod.Spec.ShareProcessNamespace, false) {
		pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostPID {
		pid = runtimeapi.NamespaceMode_NODE
	}
	ipc := runtimeapi.NamespaceMode_POD
	if pod.Spec.HostIPC {
		ipc = runtimeapi.NamespaceMode_NODE
	}
	return &runtimeapi.NamespaceOption{Network: network, Pid: pid, Ipc: ipc}
}

func hasPrivileged(pod *corev1.Pod) bool {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			if c.SecurityContext != nil && ptr.Deref(c.SecurityContext.Privileged, false) {
				return true
			}
		}
	}
	return false
}

// supplementalGroups are fsGroup and supplementalGroups, in that order, and
// the pod's policy for the image's groups.
func supplementalGroups(psc *corev1.PodSecurityContext) ([]int64, runtimeapi.SupplementalGroupsPolicy, error) {
	if psc == nil {
		return nil, runtimeapi.SupplementalGroupsPolicy_Merge, nil
	}
	var groups []int64
	if psc.FSGroup != nil {
		groups = append(groups, *psc.FSGroup)
	}
	groups = append(groups, psc.SupplementalGroups...)
	policy := runtimeapi.SupplementalGroupsPolicy_Merge
	if psc.SupplementalGroupsPolicy != nil {
		v, ok := runtimeapi.SupplementalGroupsPolicy_value[string(*psc.SupplementalGroupsPolicy)]
		if !ok {
			return nil, 0, fmt.Errorf("unsupported supplementalGroupsPolicy: %s", *psc.SupplementalGroupsPolicy)
		}
		policy = runtimeapi.SupplementalGroupsPolicy(v)
	}
	return groups, policy, nil
}

// seccompProfile is the container's profile, else the pod's, else
// Unconfined (the kubelet's default without SeccompDefault).
func seccompProfile(container, pod *corev1.SeccompProfile, root string) (*runtimeapi.SecurityProfile, error) {
	p := container
	if p == nil {
		p = pod
	}
	switch {
	case p == nil:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, nil
	case p.Type == corev1.SeccompProfileTypeRuntimeDefault:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}, nil
	case p.Type == corev1.SeccompProfileTypeLocalhost:
		if ptr.Deref(p.LocalhostProfile, "") == "" {
			//lint:ignore ST1005 the kubelet's message
			return nil, errors.New("localhostProfile must be set if seccompProfile type is Localhost.")
		}
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: filepath.Join(root, *p.LocalhostProfile)}, nil
	}
	return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, nil
}

// verifyRunAsNonRoot refuses a container that must not run as root but
// would (or whose image user cannot be told), with the kubelet's messages.
func verifyRunAsNonRoot(pod *corev1.Pod, c *corev1.Container, image imageUser) error {
	sc := securitycontext.DetermineEffectiveSecurityContext(pod, c)
	if sc == nil || !ptr.Deref(sc.RunAsNonRoot, false) {
		return nil
	}
	who := fmt.Sprintf("(pod: %q, container: %s)", format.Pod(pod), c.Name)
	if sc.RunAsUser != nil {
		if *sc.RunAsUser == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy %s", who)
		}
		return nil
	}
	switch {
	case image.uid == nil && image.username != "":
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root %s", image.username, who)
	case image.uid == nil:
		return nil
	case *image.uid == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root %s", who)
	}
	if errs := validation.IsValidUserID(*image.uid); len(errs) > 0 {
		return fmt.Errorf("container has runAsNonRoot and image has an invalid user id (%d). (Must be 1-(%d)): %s %s",
			*image.uid, math.MaxInt32, strings.Join(errs, "; "), who)
	}
	return nil
}
