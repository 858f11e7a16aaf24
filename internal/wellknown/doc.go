// Package wellknown declares, once, the names skiff gives meaning to on
// API objects: the labels and annotations under skiff.dev/ and the
// extended resource of NVIDIA GPUs. Kubernetes' own well-known names
// (corev1.LabelHostname, corev1.TaintNodeNotReady, ...) are used from
// k8s.io/api, not declared again here.
package wellknown
