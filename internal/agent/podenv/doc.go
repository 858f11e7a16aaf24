// Package podenv computes a container's environment the way the kubelet
// does: variables from envFrom ConfigMaps and Secrets, then the container's
// env entries in order, with $(VAR) references expanded against the
// variables defined before them and valueFrom sources (ConfigMap and Secret
// keys, pod fields, container resources) read at start time.
//
// Errors carry the kubelet's wording, because the agent shows them to users
// as the CreateContainerConfigError message of the container.
package podenv
