package podspec

import (
	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/utils/ptr"
)

// SetDefaultsPodSpec fills in the defaults Kubernetes gives every pod spec,
// whether it is in a Pod or in a pod template: restartPolicy, dnsPolicy,
// schedulerName, terminationGracePeriodSeconds, an empty securityContext,
// and the defaults of every container, probe, port, env source and volume.
//
// The defaults Kubernetes gives Pods only (enableServiceLinks, requests
// copied from limits, host ports under hostNetwork) are in SetDefaultsPod: a
// Deployment's template does not show them, the Pods it creates do.
func SetDefaultsPodSpec(spec *corev1.PodSpec) {
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.TerminationGracePeriodSeconds == nil {
		grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
		spec.TerminationGracePeriodSeconds = &grace
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = corev1.DefaultSchedulerName
	}
	for i := range spec.Volumes {
		setDefaultsVolume(&spec.Volumes[i])
	}
	for i := range spec.InitContainers {
		setDefaultsContainer(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		setDefaultsContainer(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		setDefaultsContainer((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	roundResourceList(spec.Overhead)
	if spec.Resources != nil {
		roundResourceList(spec.Resources.Limits)
		roundResourceList(spec.Resources.Requests)
	}
}

// SetDefaultsPod fills in the defaults of a Pod: those of its spec
// (SetDefaultsPodSpec) and the ones Kubernetes gives Pods only: container
// requests default to their limits, pod-level requests to the containers'
// (or the pod's limits), enableServiceLinks to true, and under hostNetwork
// every container port's hostPort to its containerPort.
func SetDefaultsPod(pod *corev1.Pod) {
	spec := &pod.Spec
	SetDefaultsPodSpec(spec)
	for i := range spec.Containers {
		defaultRequestsToLimits(&spec.Containers[i].Resources)
	}
	for i := range spec.InitContainers {
		defaultRequestsToLimits(&spec.InitContainers[i].Resources)
	}
	defaultPodLevelRequests(pod)
	if spec.EnableServiceLinks == nil {
		enable := corev1.DefaultEnableServiceLinks
		spec.EnableServiceLinks = &enable
	}
	if spec.HostNetwork {
		defaultHostNetworkPorts(spec.InitContainers)
		defaultHostNetworkPorts(spec.Containers)
	}
}

// defaultRequestsToLimits copies each limit without a request to the
// requests, as Kubernetes does for the containers of a Pod.
func defaultRequestsToLimits(r *corev1.ResourceRequirements) {
	if r.Limits == nil {
		return
	}
	if r.Requests == nil {
		r.Requests = make(corev1.ResourceList, len(r.Limits))
	}
	for name, limit := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			r.Requests[name] = limit.DeepCopy()
		}
	}
}

// defaultPodLevelRequests fills pod-level requests (spec.resources) when
// pod-level limits are given: from the aggregate container requests when
// containers request the resource, else from the pod-level limit.
func defaultPodLevelRequests(pod *corev1.Pod) {
	res := pod.Spec.Resources
	if res == nil || len(res.Limits) == 0 {
		return
	}
	requests := res.Requests
	if requests == nil {
		requests = corev1.ResourceList{}
	}
	aggregate := resourcehelper.AggregateContainerRequests(pod, resourcehelper.PodResourcesOptions{})
	for name, q := range aggregate {
		if _, ok := requests[name]; ok || !resourcehelper.IsSupportedPodLevelResource(name) || !overcommitAllowed(name) {
			continue
		}
		requests[name] = q.DeepCopy()
	}
	for name, limit := range res.Limits {
		if _, ok := requests[name]; ok || !resourcehelper.IsSupportedPodLevelResource(name) {
			continue
		}
		requests[name] = limit.DeepCopy()
	}
	if len(requests) > 0 {
		res.Requests = requests
	}
}

func defaultHostNetworkPorts(containers []corev1.Container) {
	for i := range containers {
		for j := range containers[i].Ports {
			p := &containers[i].Ports[j]
			if p.HostPort == 0 {
				p.HostPort = p.ContainerPort
			}
		}
	}
}

func setDefaultsContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = defaultPullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		setDefaultsEnvVarSource(c.Env[i].ValueFrom)
	}
	roundResourceList(c.Resources.Limits)
	roundResourceList(c.Resources.Requests)
	setDefaultsProbe(c.LivenessProbe)
	setDefaultsProbe(c.ReadinessProbe)
	setDefaultsProbe(c.StartupProbe)
	if c.Lifecycle != nil {
		setDefaultsLifecycleHandler(c.Lifecycle.PostStart)
		setDefaultsLifecycleHandler(c.Lifecycle.PreStop)
	}
}

// defaultPullPolicy is Always for an image whose tag is "latest", written or
// implied (no tag and no digest), and IfNotPresent otherwise, including for
// references that do not parse.
func defaultPullPolicy(image string) corev1.PullPolicy {
	if imageTag(image) == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// imageTag returns the tag of an image reference: "latest" when it has
// neither tag nor digest, "" when it has only a digest or does not parse.
func imageTag(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	var tag string
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if _, ok := named.(reference.Digested); !ok && tag == "" {
		tag = "latest"
	}
	return tag
}

func setDefaultsEnvVarSource(src *corev1.EnvVarSource) {
	if src == nil {
		return
	}
	setDefaultsFieldRef(src.FieldRef)
	if src.FileKeyRef != nil && src.FileKeyRef.Optional == nil {
		optional := false
		src.FileKeyRef.Optional = &optional
	}
}

func setDefaultsFieldRef(ref *corev1.ObjectFieldSelector) {
	if ref != nil && ref.APIVersion == "" {
		ref.APIVersion = "v1"
	}
}

func setDefaultsProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	setDefaultsHTTPGet(p.HTTPGet)
	if p.GRPC != nil && p.GRPC.Service == nil {
		service := ""
		p.GRPC.Service = &service
	}
}

func setDefaultsLifecycleHandler(h *corev1.LifecycleHandler) {
	if h != nil {
		setDefaultsHTTPGet(h.HTTPGet)
	}
}

func setDefaultsHTTPGet(a *corev1.HTTPGetAction) {
	if a == nil {
		return
	}
	if a.Path == "" {
		a.Path = "/"
	}
	if a.Scheme == "" {
		a.Scheme = corev1.URISchemeHTTP
	}
}

// roundResourceList rounds every quantity up to milli precision, as
// Kubernetes does for all resource lists ("0.0001" CPU becomes "1m").
func roundResourceList(list corev1.ResourceList) {
	for name, q := range list {
		q.RoundUp(resource.Milli)
		list[name] = q
	}
}

func setDefaultsVolume(v *corev1.Volume) {
	src := &v.VolumeSource
	if isEmptyVolumeSource(src) {
		src.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if src.Secret != nil && src.Secret.DefaultMode == nil {
		src.Secret.DefaultMode = ptr.To(corev1.SecretVolumeSourceDefaultMode)
	}
	if src.ConfigMap != nil && src.ConfigMap.DefaultMode == nil {
		src.ConfigMap.DefaultMode = ptr.To(corev1.ConfigMapVolumeSourceDefaultMode)
	}
	if src.DownwardAPI != nil {
		if src.DownwardAPI.DefaultMode == nil {
			src.DownwardAPI.DefaultMode = ptr.To(corev1.DownwardAPIVolumeSourceDefaultMode)
		}
		for i := range src.DownwardAPI.Items {
			setDefaultsFieldRef(src.DownwardAPI.Items[i].FieldRef)
		}
	}
	if src.Projected != nil {
		setDefaultsProjected(src.Projected)
	}
	if src.HostPath != nil && src.HostPath.Type == nil {
		unset := corev1.HostPathUnset
		src.HostPath.Type = &unset
	}
	if src.ISCSI != nil && src.ISCSI.ISCSIInterface == "" {
		src.ISCSI.ISCSIInterface = "default"
	}
	if rbd := src.RBD; rbd != nil {
		if rbd.RBDPool == "" {
			rbd.RBDPool = "rbd"
		}
		if rbd.RadosUser == "" {
			rbd.RadosUser = "admin"
		}
		if rbd.Keyring == "" {
			rbd.Keyring = "/etc/ceph/keyring"
		}
	}
	if az := src.AzureDisk; az != nil {
		if az.CachingMode == nil {
			mode := corev1.AzureDataDiskCachingReadWrite
			az.CachingMode = &mode
		}
		if az.FSType == nil {
			fsType := "ext4"
			az.FSType = &fsType
		}
		if az.ReadOnly == nil {
			readOnly := false
			az.ReadOnly = &readOnly
		}
		if az.Kind == nil {
			kind := corev1.AzureSharedBlobDisk
			az.Kind = &kind
		}
	}
	if sio := src.ScaleIO; sio != nil {
		if sio.StorageMode == "" {
			sio.StorageMode = "ThinProvisioned"
		}
		if sio.FSType == "" {
			sio.FSType = "xfs"
		}
	}
	if eph := src.Ephemeral; eph != nil && eph.VolumeClaimTemplate != nil {
		spec := &eph.VolumeClaimTemplate.Spec
		if spec.VolumeMode == nil {
			mode := corev1.PersistentVolumeFilesystem
			spec.VolumeMode = &mode
		}
		roundResourceList(spec.Resources.Limits)
		roundResourceList(spec.Resources.Requests)
	}
	if img := src.Image; img != nil && img.PullPolicy == "" {
		img.PullPolicy = defaultPullPolicy(img.Reference)
	}
}

func setDefaultsProjected(p *corev1.ProjectedVolumeSource) {
	if p.DefaultMode == nil {
		p.DefaultMode = ptr.To(corev1.ProjectedVolumeSourceDefaultMode)
	}
	for i := range p.Sources {
		s := &p.Sources[i]
		if s.DownwardAPI != nil {
			for j := range s.DownwardAPI.Items {
				setDefaultsFieldRef(s.DownwardAPI.Items[j].FieldRef)
			}
		}
		if s.ServiceAccountToken != nil && s.ServiceAccountToken.ExpirationSeconds == nil {
			hour := int64(3600)
			s.ServiceAccountToken.ExpirationSeconds = &hour
		}
	}
}

// isEmptyVolumeSource reports whether no volume type is set.
func isEmptyVolumeSource(s *corev1.VolumeSource) bool {
	return countVolumeSources(s) == 0
}
