package podspec

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubernetes/pkg/apis/certificates"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"
)

const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

// validateVolumes checks the pod's volumes and returns the valid ones by
// name, for the containers' mounts to refer to.
func validateVolumes(volumes []corev1.Volume, podMeta *metav1.ObjectMeta, fldPath *field.Path) (map[string]corev1.VolumeSource, field.ErrorList) {
	var errs field.ErrorList
	names := sets.New[string]()
	created := sets.New[string]()
	if podMeta != nil && podMeta.Name != "" {
		for _, v := range volumes {
			if v.Ephemeral != nil {
				created.Insert(podMeta.Name + "-" + v.Name)
			}
		}
	}
	vols := make(map[string]corev1.VolumeSource, len(volumes))
	for i := range volumes {
		v := &volumes[i]
		p := fldPath.Index(i)
		namePath := p.Child("name")
		el := validateVolumeSource(&v.VolumeSource, p, v.Name, podMeta)
		if v.Name == "" {
			el = append(el, field.Required(namePath, ""))
		} else {
			el = append(el, dns1123Label(v.Name, namePath)...)
		}
		if names.Has(v.Name) {
			el = append(el, field.Duplicate(namePath, v.Name))
		}
		if len(el) == 0 {
			names.Insert(v.Name)
			vols[v.Name] = v.VolumeSource
		} else {
			errs = append(errs, el...)
		}
		if v.PersistentVolumeClaim != nil && created.Has(v.PersistentVolumeClaim.ClaimName) {
			errs = append(errs, field.Invalid(p.Child("persistentVolumeClaim", "claimName"), v.PersistentVolumeClaim.ClaimName,
				"must not reference a PVC that gets created for an ephemeral volume"))
		}
	}
	return vols, errs
}

// volumeSources lists the volume types in the order Kubernetes checks them,
// with whether each is set.
func volumeSources(s *corev1.VolumeSource) []struct {
	name string
	set  bool
} {
	return []struct {
		name string
		set  bool
	}{
		{"emptyDir", s.EmptyDir != nil},
		{"hostPath", s.HostPath != nil},
		{"gitRepo", s.GitRepo != nil},
		{"gcePersistentDisk", s.GCEPersistentDisk != nil},
		{"awsElasticBlockStore", s.AWSElasticBlockStore != nil},
		{"secret", s.Secret != nil},
		{"nfs", s.NFS != nil},
		{"iscsi", s.ISCSI != nil},
		{"glusterfs", s.Glusterfs != nil},
		{"flocker", s.Flocker != nil},
		{"persistentVolumeClaim", s.PersistentVolumeClaim != nil},
		{"rbd", s.RBD != nil},
		{"cinder", s.Cinder != nil},
		{"cephFS", s.CephFS != nil},
		{"quobyte", s.Quobyte != nil},
		{"downwarAPI", s.DownwardAPI != nil}, // sic: Kubernetes' spelling in this message
		{"fc", s.FC != nil},
		{"flexVolume", s.FlexVolume != nil},
		{"configMap", s.ConfigMap != nil},
		{"azureFile", s.AzureFile != nil},
		{"vsphereVolume", s.VsphereVolume != nil},
		{"photonPersistentDisk", s.PhotonPersistentDisk != nil},
		{"portworxVolume", s.PortworxVolume != nil},
		{"azureDisk", s.AzureDisk != nil},
		{"storageos", s.StorageOS != nil},
		{"projected", s.Projected != nil},
		{"scaleIO", s.ScaleIO != nil},
		{"csi", s.CSI != nil},
		{"ephemeral", s.Ephemeral != nil},
		{"image", s.Image != nil},
	}
}

func countVolumeSources(s *corev1.VolumeSource) int {
	n := 0
	for _, src := range volumeSources(s) {
		if src.set {
			n++
		}
	}
	return n
}

func validateVolumeSource(s *corev1.VolumeSource, fldPath *field.Path, volName string, podMeta *metav1.ObjectMeta) field.ErrorList {
	var errs field.ErrorList
	n := 0
	for _, src := range volumeSources(s) {
		if !src.set {
			continue
		}
		if n > 0 {
			errs = append(errs, field.Forbidden(fldPath.Child(src.name), "may not specify more than 1 volume type"))
			continue
		}
		n++
		errs = append(errs, validateOneVolumeSource(s, src.name, fldPath, volName, podMeta)...)
	}
	if n == 0 {
		errs = append(errs, field.Required(fldPath, "must specify a volume type"))
	}
	return errs
}

// validateOneVolumeSource checks the volume type the user chose. The
// commonly used types are checked as Kubernetes does; the in-tree cloud
// volume types skiff cannot mount get only their required fields checked.
func validateOneVolumeSource(s *corev1.VolumeSource, name string, fldPath *field.Path, volName string, podMeta *metav1.ObjectMeta) field.ErrorList {
	var errs field.ErrorList
	required := func(empty bool, p *field.Path) {
		if empty {
			errs = append(errs, field.Required(p, ""))
		}
	}
	switch name {
	case "emptyDir":
		if l := s.EmptyDir.SizeLimit; l != nil && l.Cmp(resource.Quantity{}) < 0 {
			errs = append(errs, field.Forbidden(fldPath.Child("emptyDir", "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
	case "hostPath":
		p := fldPath.Child("hostPath")
		if s.HostPath.Path == "" {
			return field.ErrorList{field.Required(p.Child("path"), "")}
		}
		errs = append(errs, validatePathNoBacksteps(s.HostPath.Path, p.Child("path"))...)
		if t := s.HostPath.Type; t != nil && !supportedHostPathTypes.Has(*t) {
			errs = append(errs, field.NotSupported(p.Child("type"), t, sets.List(supportedHostPathTypes)))
		}
	case "gitRepo":
		p := fldPath.Child("gitRepo")
		required(s.GitRepo.Repository == "", p.Child("repository"))
		errs = append(errs, validateLocalDescendingPath(s.GitRepo.Directory, p.Child("directory"))...)
	case "secret":
		p := fldPath.Child("secret")
		required(s.Secret.SecretName == "", p.Child("secretName"))
		errs = append(errs, validateFileMode(s.Secret.DefaultMode, p.Child("defaultMode"))...)
		for i := range s.Secret.Items {
			errs = append(errs, validateKeyToPath(&s.Secret.Items[i], p.Child("items").Index(i))...)
		}
	case "configMap":
		p := fldPath.Child("configMap")
		required(s.ConfigMap.Name == "", p.Child("name"))
		errs = append(errs, validateFileMode(s.ConfigMap.DefaultMode, p.Child("defaultMode"))...)
		for i := range s.ConfigMap.Items {
			errs = append(errs, validateKeyToPath(&s.ConfigMap.Items[i], p.Child("items").Index(i))...)
		}
	case "nfs":
		p := fldPath.Child("nfs")
		required(s.NFS.Server == "", p.Child("server"))
		required(s.NFS.Path == "", p.Child("path"))
		if !path.IsAbs(s.NFS.Path) {
			errs = append(errs, field.Invalid(p.Child("path"), s.NFS.Path, "must be an absolute path"))
		}
	case "persistentVolumeClaim":
		required(s.PersistentVolumeClaim.ClaimName == "", fldPath.Child("persistentVolumeClaim", "claimName"))
	case "downwarAPI":
		p := fldPath.Child("downwardAPI")
		errs = append(errs, validateFileMode(s.DownwardAPI.DefaultMode, p.Child("defaultMode"))...)
		for i := range s.DownwardAPI.Items {
			errs = append(errs, validateDownwardAPIFile(&s.DownwardAPI.Items[i], p)...)
		}
	case "projected":
		errs = append(errs, validateProjected(s.Projected, fldPath.Child("projected"))...)
	case "csi":
		p := fldPath.Child("csi")
		if s.CSI.Driver == "" {
			errs = append(errs, field.Required(p.Child("driver"), ""))
		} else {
			errs = append(errs, dns1123Subdomain(strings.ToLower(s.CSI.Driver), p.Child("driver"))...)
		}
		if ref := s.CSI.NodePublishSecretRef; ref != nil && ref.Name == "" {
			errs = append(errs, field.Required(p.Child("nodePublishSecretRef", "name"), ""))
		}
	case "ephemeral":
		p := fldPath.Child("ephemeral")
		if s.Ephemeral.VolumeClaimTemplate == nil {
			errs = append(errs, field.Required(p.Child("volumeClaimTemplate"), ""))
		} else if len(s.Ephemeral.VolumeClaimTemplate.Spec.AccessModes) == 0 {
			errs = append(errs, field.Required(p.Child("volumeClaimTemplate", "spec", "accessModes"), "at least 1 access mode is required"))
		}
		if podMeta != nil && podMeta.Name != "" && volName != "" {
			pvcName := podMeta.Name + "-" + volName
			for _, msg := range apivalidation.NameIsDNSSubdomain(pvcName, false) {
				errs = append(errs, field.Invalid(fldPath.Child("name"), volName, fmt.Sprintf("PVC name %q: %v", pvcName, msg)))
			}
		}
	case "image":
		errs = append(errs, validatePullPolicy(s.Image.PullPolicy, fldPath.Child("image", "pullPolicy"))...)
	case "iscsi":
		p := fldPath.Child("iscsi")
		required(s.ISCSI.TargetPortal == "", p.Child("targetPortal"))
		required(s.ISCSI.IQN == "", p.Child("iqn"))
	case "rbd":
		p := fldPath.Child("rbd")
		required(len(s.RBD.CephMonitors) == 0, p.Child("monitors"))
		required(s.RBD.RBDImage == "", p.Child("image"))
	case "cephFS":
		required(len(s.CephFS.Monitors) == 0, fldPath.Child("cephfs", "monitors"))
	case "glusterfs":
		p := fldPath.Child("glusterfs")
		required(s.Glusterfs.EndpointsName == "", p.Child("endpoints"))
		required(s.Glusterfs.Path == "", p.Child("path"))
	case "flexVolume":
		required(s.FlexVolume.Driver == "", fldPath.Child("flexVolume", "driver"))
	}
	return errs
}

var supportedHostPathTypes = sets.New(
	corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate,
	corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev)

func validateFileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, fileModeErrorMsg)}
	}
	return nil
}

func validateKeyToPath(kp *corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if kp.Key == "" {
		errs = append(errs, field.Required(fldPath.Child("key"), ""))
	}
	if kp.Path == "" {
		errs = append(errs, field.Required(fldPath.Child("path"), ""))
	}
	errs = append(errs, validateLocalNonReservedPath(kp.Path, fldPath.Child("path"))...)
	errs = append(errs, validateFileMode(kp.Mode, fldPath.Child("mode"))...)
	return errs
}

var validVolumeFieldPaths = sets.New("metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.uid")

func validateDownwardAPIFile(f *corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if f.Path == "" {
		errs = append(errs, field.Required(fldPath.Child("path"), ""))
	}
	errs = append(errs, validateLocalNonReservedPath(f.Path, fldPath.Child("path"))...)
	switch {
	case f.FieldRef != nil:
		errs = append(errs, validateObjectFieldSelector(f.FieldRef, validVolumeFieldPaths, fldPath.Child("fieldRef"))...)
		if f.ResourceFieldRef != nil {
			errs = append(errs, field.Invalid(fldPath, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	case f.ResourceFieldRef != nil:
		errs = append(errs, validateResourceFieldSelector(f.ResourceFieldRef, true, fldPath.Child("resourceFieldRef"))...)
	default:
		errs = append(errs, field.Required(fldPath, "one of fieldRef and resourceFieldRef is required"))
	}
	errs = append(errs, validateFileMode(f.Mode, fldPath.Child("mode"))...)
	return errs
}

func validateProjected(p *corev1.ProjectedVolumeSource, fldPath *field.Path) field.ErrorList {
	errs := validateFileMode(p.DefaultMode, fldPath.Child("defaultMode"))
	paths := projectedPaths{written: sets.New[string](), fldPath: fldPath}
	addPath := func(pth string, bad interface{}) { errs = append(errs, paths.add(pth, bad)...) }
	for i := range p.Sources {
		s := &p.Sources[i]
		n := 0
		sp := fldPath.Child("sources").Index(i)
		if s.Secret != nil {
			n++
			if s.Secret.Name == "" {
				errs = append(errs, field.Required(sp.Child("secret", "name"), ""))
			}
			for j := range s.Secret.Items {
				errs = append(errs, validateKeyToPath(&s.Secret.Items[j], sp.Child("secret", "items").Index(j))...)
				if pth := s.Secret.Items[j].Path; pth != "" {
					addPath(pth, s.Secret.Name)
				}
			}
		}
		if s.ConfigMap != nil {
			n++
			if s.ConfigMap.Name == "" {
				errs = append(errs, field.Required(sp.Child("configMap", "name"), ""))
			}
			for j := range s.ConfigMap.Items {
				errs = append(errs, validateKeyToPath(&s.ConfigMap.Items[j], sp.Child("configMap", "items").Index(j))...)
				if pth := s.ConfigMap.Items[j].Path; pth != "" {
					addPath(pth, s.ConfigMap.Name)
				}
			}
		}
		if s.DownwardAPI != nil {
			n++
			for j := range s.DownwardAPI.Items {
				errs = append(errs, validateDownwardAPIFile(&s.DownwardAPI.Items[j], sp.Child("downwardAPI"))...)
				if pth := s.DownwardAPI.Items[j].Path; pth != "" {
					addPath(pth, pth)
				}
			}
		}
		if t := s.ServiceAccountToken; t != nil {
			n++
			errs = append(errs, validateServiceAccountTokenProjection(t, sp.Child("serviceAccountToken"), fldPath)...)
		}
		if b := s.ClusterTrustBundle; b != nil {
			n++
			errs = append(errs, validateClusterTrustBundleProjection(b, sp.Child("clusterTrustBundle"))...)
			addPath(b.Path, b.Path)
		}
		if c := s.PodCertificate; c != nil {
			n++
			errs = append(errs, validatePodCertificateProjection(c, sp.Child("podCertificate"), &paths)...)
		}
		if n > 1 {
			errs = append(errs, field.Forbidden(sp, "may not specify more than 1 volume type per source"))
		}
	}
	return errs
}

// projectedPaths are the files a projected volume writes, so that no two
// sources write the same one.
type projectedPaths struct {
	written sets.Set[string]
	fldPath *field.Path // the projection's, where a conflict is reported
}

// add records pth; a path written twice is reported on the projection
// with bad as the value, as Kubernetes reports it.
func (p *projectedPaths) add(pth string, bad interface{}) field.ErrorList {
	if p.written.Has(pth) {
		return field.ErrorList{field.Invalid(p.fldPath, bad, "conflicting duplicate paths")}
	}
	p.written.Insert(pth)
	return nil
}

// validateServiceAccountTokenProjection checks a projected token; as in
// Kubernetes, an empty or bad path is reported on the projection
// (projPath), not on the source.
func validateServiceAccountTokenProjection(t *corev1.ServiceAccountTokenProjection, fldPath, projPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if exp := t.ExpirationSeconds; exp == nil {
		errs = append(errs, field.Required(fldPath.Child("expirationSeconds"), ""))
	} else {
		if *exp < 10*60 {
			errs = append(errs, field.Invalid(fldPath.Child("expirationSeconds"), *exp, "may not specify a duration less than 10 minutes"))
		}
		if *exp > 1<<32 {
			errs = append(errs, field.Invalid(fldPath.Child("expirationSeconds"), *exp, "may not specify a duration larger than 2^32 seconds"))
		}
	}
	if t.Path == "" {
		errs = append(errs, field.Required(projPath.Child("path"), ""))
	} else {
		errs = append(errs, validateLocalNonReservedPath(t.Path, projPath.Child("path"))...)
	}
	return errs
}

// validateClusterTrustBundleProjection checks a projected trust bundle,
// named either by object name or by signer name and label selector.
func validateClusterTrustBundleProjection(b *corev1.ClusterTrustBundleProjection, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case b.Name != nil && b.SignerName != nil:
		errs = append(errs, field.Invalid(fldPath, b, "only one of name and signerName may be used"))
	case b.Name != nil:
		name := *b.Name
		if name == "" {
			errs = append(errs, field.Required(fldPath.Child("name"), "must be a valid object name"))
		}
		// A name with a colon names a bundle of the signer before the
		// last colon (its slashes written as colons).
		signer := ""
		if i := strings.LastIndex(name, ":"); i >= 0 {
			signer = strings.ReplaceAll(name[:i], ":", "/")
		}
		for _, msg := range corevalidation.ValidateClusterTrustBundleName(signer)(name, false) {
			errs = append(errs, field.Invalid(fldPath.Child("name"), name, "not a valid clustertrustbundlename: "+msg))
		}
		if b.LabelSelector != nil {
			errs = append(errs, field.Invalid(fldPath.Child("labelSelector"), b.LabelSelector, "labelSelector must be unset if name is specified"))
		}
	case b.SignerName != nil:
		if *b.SignerName == "" {
			errs = append(errs, field.Required(fldPath.Child("signerName"), "must be a valid signer name"))
		}
		errs = append(errs, corevalidation.ValidateSignerName(fldPath.Child("signerName"), *b.SignerName)...)
		errs = append(errs, metav1validation.ValidateLabelSelector(b.LabelSelector,
			metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("labelSelector"))...)
	default:
		errs = append(errs, field.Required(fldPath, "either name or signerName must be specified"))
	}
	if b.Path == "" {
		errs = append(errs, field.Required(fldPath.Child("path"), ""))
	}
	return append(errs, validateLocalNonReservedPath(b.Path, fldPath.Child("path"))...)
}

// Key types a pod certificate may ask for, in Kubernetes' order.
var podCertificateKeyTypes = []string{"RSA3072", "RSA4096", "ECDSAP256", "ECDSAP384", "ECDSAP521", "ED25519"}

// minPodCertificateMaxExpirationSeconds is the shortest lifetime a pod
// certificate may ask for; the longest is Kubernetes' limit for any signer,
// or its shorter one for the signers it reserves (kubernetes.io and its
// subdomains).
const minPodCertificateMaxExpirationSeconds = 3600

// validatePodCertificateProjection checks a projected pod certificate: its
// signer, key type, lifetime, and the files it writes (at least one).
func validatePodCertificateProjection(c *corev1.PodCertificateProjection, fldPath *field.Path, paths *projectedPaths) field.ErrorList {
	errs := corevalidation.ValidateSignerName(fldPath.Child("signerName"), c.SignerName)
	if c.UserAnnotations != nil {
		errs = append(errs, corevalidation.ValidateUserAnnotations(c.UserAnnotations, fldPath.Child("userAnnotations"))...)
	}
	if !slices.Contains(podCertificateKeyTypes, c.KeyType) {
		errs = append(errs, field.NotSupported(fldPath.Child("keyType"), c.KeyType, podCertificateKeyTypes))
	}
	if exp := c.MaxExpirationSeconds; exp != nil {
		if *exp < minPodCertificateMaxExpirationSeconds {
			errs = append(errs, field.Invalid(fldPath.Child("maxExpirationSeconds"), *exp,
				fmt.Sprintf("if provided, maxExpirationSeconds must be >= %d", minPodCertificateMaxExpirationSeconds)))
		}
		limit := certificates.MaxMaxExpirationSeconds
		if corevalidation.IsKubernetesSignerName(c.SignerName) {
			limit = certificates.KubernetesMaxMaxExpirationSeconds
		}
		if *exp > int32(limit) {
			errs = append(errs, field.Invalid(fldPath.Child("maxExpirationSeconds"), *exp,
				fmt.Sprintf("if provided, maxExpirationSeconds must be <= %d", limit)))
		}
	}
	files := 0
	for _, f := range []struct {
		path string
		name string
	}{{c.CredentialBundlePath, "credentialBundlePath"}, {c.KeyPath, "keyPath"}, {c.CertificateChainPath, "certificateChainPath"}} {
		if f.path == "" {
			continue
		}
		files++
		errs = append(errs, validateLocalNonReservedPath(f.path, fldPath.Child(f.name))...)
		errs = append(errs, paths.add(f.path, f.path)...)
	}
	if files == 0 {
		errs = append(errs, field.Required(fldPath, "specify at least one of credentialBundlePath, keyPath, and certificateChainPath"))
	}
	return errs
}

// validateLocalDescendingPath requires a relative path without "..".
func validateLocalDescendingPath(target string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(target) {
		errs = append(errs, field.Invalid(fldPath, target, "must be a relative path"))
	}
	return append(errs, validatePathNoBacksteps(target, fldPath)...)
}

func validatePathNoBacksteps(target string, fldPath *field.Path) field.ErrorList {
	if hasBacksteps(target) {
		return field.ErrorList{field.Invalid(fldPath, target, "must not contain '..'")}
	}
	return nil
}

func hasBacksteps(target string) bool {
	for _, part := range strings.Split(filepath.ToSlash(target), "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

func validateLocalNonReservedPath(target string, fldPath *field.Path) field.ErrorList {
	errs := validateLocalDescendingPath(target, fldPath)
	if strings.HasPrefix(target, "..") && !strings.HasPrefix(target, "../") {
		errs = append(errs, field.Invalid(fldPath, target, "must not start with '..'"))
	}
	return errs
}
