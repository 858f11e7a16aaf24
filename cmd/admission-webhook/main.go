// Command admission-webhook is the small admission webhook server of
// skiff's tests: it answers AdmissionReview (admission.k8s.io/v1) requests
// over HTTPS, as a webhook a chart installs would, so that tests can run it
// in a pod behind a Service.
//
//	admission-webhook -cert-file F -key-file F [-addr :8443] [-message M]
//
//	/validate  refuses every request it is sent with message M (the
//	           webhook configuration's rules and selectors choose what is sent)
//	/mutate    allows it, adding the label admission-webhook.skiff.dev/mutated=true
//	/healthz   answers ok (readiness)
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MutatedLabel is the label /mutate adds.
const MutatedLabel = "admission-webhook.skiff.dev/mutated"

func main() {
	addr := flag.String("addr", ":8443", "address to serve HTTPS on")
	certFile := flag.String("cert-file", "", "serving certificate (PEM)")
	keyFile := flag.String("key-file", "", "serving key (PEM)")
	message := flag.String("message", "refused by admission-webhook", "why /validate refuses")
	flag.Parse()
	if *certFile == "" || *keyFile == "" {
		fmt.Fprintln(os.Stderr, "admission-webhook: -cert-file and -key-file are required")
		os.Exit(2)
	}
	srv := &http.Server{Addr: *addr, Handler: handler(*message), ReadHeaderTimeout: 10 * time.Second}
	slog.Info("serving", "addr", *addr)
	if err := srv.ListenAndServeTLS(*certFile, *keyFile); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("serve", "err", err)
		os.Exit(1)
	}
}

func handler(message string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.Handle("/validate", review(func(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		return &admissionv1.AdmissionResponse{UID: req.UID, Allowed: false,
			Result: &metav1.Status{Message: message, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden}}
	}))
	mux.Handle("/mutate", review(mutate))
	return mux
}

// mutate allows the request, adding MutatedLabel to the object.
func mutate(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	var obj struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if err := json.Unmarshal(req.Object.Raw, &obj); err != nil {
		return resp
	}
	var patch []map[string]any
	if obj.Metadata.Labels == nil {
		patch = append(patch, map[string]any{"op": "add", "path": "/metadata/labels", "value": map[string]string{}})
	}
	patch = append(patch, map[string]any{"op": "add", "path": "/metadata/labels/admission-webhook.skiff.dev~1mutated", "value": "true"})
	resp.Patch, _ = json.Marshal(patch)
	pt := admissionv1.PatchTypeJSONPatch
	resp.PatchType = &pt
	return resp
}

// review decodes an AdmissionReview, answers it with decide and writes the
// review back.
func review(decide func(*admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rev admissionv1.AdmissionReview
		if err := json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&rev); err != nil || rev.Request == nil {
			http.Error(w, "want an AdmissionReview with a request", http.StatusBadRequest)
			return
		}
		slog.Info("review", "path", r.URL.Path, "kind", rev.Request.Kind.Kind, "namespace", rev.Request.Namespace,
			"name", rev.Request.Name, "operation", rev.Request.Operation)
		out := admissionv1.AdmissionReview{TypeMeta: rev.TypeMeta, Response: decide(rev.Request)}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}
