// Package customapi serves the custom metrics API, custom.metrics.k8s.io
// v1beta2, over the values internal/metrics/custom keeps: Pods metrics
// (namespaces/{ns}/pods/{name|*}/{metric}, with labelSelector and
// metricLabelSelector), Object metrics of the workloads that own pods
// (deployments.apps, replicasets.apps, statefulsets.apps: the sum over
// their pods) and namespace metrics (namespaces/{ns}/metrics/{metric}: the
// sum over the namespace's pods), laid out as custom-metrics-apiserver lays
// them out. The paths are not REST resources: the API server mounts Handler
// beside its REST API and lists the group in discovery. ExternalHandler
// serves external.metrics.k8s.io v1beta1 over the same values.
package customapi
