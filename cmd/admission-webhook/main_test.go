package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		path      string
		object    string
		code      int
		allowed   bool
		message   string
		wantPatch string
	}{
		{path: "/validate", object: `{"metadata":{"name":"web"}}`, code: http.StatusOK, message: "no"},
		{path: "/mutate", object: `{"metadata":{"name":"web"}}`, code: http.StatusOK, allowed: true,
			wantPatch: `[{"op":"add","path":"/metadata/labels","value":{}},{"op":"add","path":"/metadata/labels/admission-webhook.skiff.dev~1mutated","value":"true"}]`},
		{path: "/mutate", object: `{"metadata":{"name":"web","labels":{"a":"b"}}}`, code: http.StatusOK, allowed: true,
			wantPatch: `[{"op":"add","path":"/metadata/labels/admission-webhook.skiff.dev~1mutated","value":"true"}]`},
		{path: "/validate", code: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var body []byte
			if tt.object != "" {
				body, _ = json.Marshal(admissionv1.AdmissionReview{Request: &admissionv1.AdmissionRequest{
					UID: types.UID("42"), Object: runtime.RawExtension{Raw: []byte(tt.object)}}})
			}
			rec := httptest.NewRecorder()
			handler("no").ServeHTTP(rec, httptest.NewRequest(http.MethodPost, tt.path, bytes.NewReader(body)))
			if rec.Code != tt.code {
				t.Fatalf("code %d, want %d", rec.Code, tt.code)
			}
			if tt.code != http.StatusOK {
				return
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			r := out.Response
			if r.UID != "42" || r.Allowed != tt.allowed || string(r.Patch) != tt.wantPatch {
				t.Errorf("response %+v, patch %s", r, r.Patch)
			}
			if tt.message != "" && (r.Result == nil || r.Result.Message != tt.message) {
				t.Errorf("result %+v, want message %q", r.Result, tt.message)
			}
		})
	}
}
