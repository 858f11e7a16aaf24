package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthCheckAnswers(t *testing.T) {
	key := serviceKey{Namespace: "ns", Name: "web"}
	for _, tc := range []struct {
		local      int
		wantStatus int
	}{{local: 2, wantStatus: http.StatusOK}, {local: 0, wantStatus: http.StatusServiceUnavailable}} {
		h := &healthServer{port: 32000}
		h.local.Store(int64(tc.local))
		rec := httptest.NewRecorder()
		h.handler(key).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != tc.wantStatus {
			t.Errorf("local=%d: status %d, want %d", tc.local, rec.Code, tc.wantStatus)
		}
		var body healthResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if body.LocalEndpoints != tc.local || body.Service.Name != "web" || body.Service.Namespace != "ns" {
			t.Errorf("local=%d: body %+v", tc.local, body)
		}
	}
}
