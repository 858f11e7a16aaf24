package scrape

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestEachKeepsWhatAnsweredWithinTheLimit(t *testing.T) {
	var running, most atomic.Int32
	got := Each([]int{1, 2, 3, 4, 5, 6, 7, 8}, 3, func(i int) (int, bool) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Millisecond) // overlap with the others
		return i, i%2 == 0
	})
	if len(got) != 4 || !got[2] || !got[4] || !got[6] || !got[8] {
		t.Errorf("scraped %v, want the even items", got)
	}
	if most.Load() > 3 {
		t.Errorf("%d scrapes at once, want at most 3", most.Load())
	}
}

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.Error(w, "no such page", http.StatusNotFound)
			return
		}
		_, _ = io.WriteString(w, "up 1\n")
	}))
	defer srv.Close()
	read := func(r io.Reader, _ time.Time) (string, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	}
	tests := []struct {
		path, want, wantErr string
	}{
		{path: "/metrics", want: "up 1\n"},
		{path: "/missing", wantErr: "404 Not Found: no such page"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := Get(context.Background(), Options{Client: srv.Client(), Timeout: 5 * time.Second}, srv.URL+tt.path, read)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Get = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
