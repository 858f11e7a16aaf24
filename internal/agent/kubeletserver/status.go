package kubeletserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// PodNotFound is the error a PodSource returns for a pod not on this node.
func PodNotFound(pod string) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, pod)
}

// ContainerNotFound is the error a PodSource returns for a container the
// pod does not have (404, with the kubelet's message).
func ContainerNotFound(container, pod string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: fmt.Sprintf("container %q not found in pod %q", container, pod),
	}}
}

// PreviousNotFound is the error a PodSource returns when asked for the
// previous instance of a container that has not terminated before (400,
// with the kubelet's message).
func PreviousNotFound(container, pod string) error {
	return apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", container, pod))
}

// ContainerNotStarted is the error for logs of a container that has not
// been created yet (400 as the kubelet answers while it waits).
func ContainerNotStarted(container, pod, reason string) error {
	return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, pod, reason))
}

// writeStatus answers with err as a Kubernetes Status: an apierrors value
// keeps its code, anything else is a 500.
func writeStatus(w http.ResponseWriter, err error) {
	var st metav1.Status
	var apiStatus apierrors.APIStatus
	if errors.As(err, &apiStatus) {
		st = apiStatus.Status()
	} else {
		st = apierrors.NewInternalError(err).Status()
		st.Message = err.Error()
	}
	st.Kind, st.APIVersion = "Status", "v1"
	if st.Status == "" {
		st.Status = metav1.StatusFailure
	}
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	body, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(int(st.Code))
	_, _ = w.Write(body)
}
