package storage

import (
	"slices"
	"testing"
	"time"

	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStorageClassNames(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Hour))
	class := func(name string, created metav1.Time, def string) *storagev1.StorageClass {
		sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: created}}
		if def != "" {
			sc.Annotations = map[string]string{def: "true"}
		}
		return sc
	}
	const ga, beta = "storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"
	tests := []struct {
		name    string
		classes []*storagev1.StorageClass
		list    bool
		want    []string
	}{
		{"one default", []*storagev1.StorageClass{class("local-path", t0, ga), class("fast", t0, "")}, true,
			[]string{"local-path (default)", "fast"}},
		{"single object unmarked", []*storagev1.StorageClass{class("local-path", t0, ga)}, false, []string{"local-path"}},
		{"newest default wins", []*storagev1.StorageClass{class("a", t0, ga), class("b", t1, beta)}, true, []string{"a", "b (default)"}},
		{"same time: first by name", []*storagev1.StorageClass{class("b", t0, ga), class("a", t0, ga)}, true, []string{"b", "a (default)"}},
		{"none", []*storagev1.StorageClass{class("a", t0, "")}, true, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StorageClassNames(tt.classes, tt.list); !slices.Equal(got, tt.want) {
				t.Fatalf("StorageClassNames = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKinds(t *testing.T) {
	want := map[string]bool{"storageclasses": false, "volumeattachments": false, "csidrivers": false, "csinodes": false,
		"csistoragecapacities": true, "volumeattributesclasses": false}
	kinds := Kinds()
	if len(kinds) != len(want) {
		t.Fatalf("%d kinds, want %d", len(kinds), len(want))
	}
	for _, k := range kinds {
		namespaced, ok := want[k.Resource.Resource]
		if !ok || k.Namespaced != namespaced || k.Resource.Group != GroupName {
			t.Errorf("%s: namespaced %v", k.Resource, k.Namespaced)
		}
		if cells, err := k.Row(k.New()); err != nil || len(cells) != len(k.Columns) {
			t.Errorf("%s: row of an empty object: %d cells for %d columns, %v", k.Resource.Resource, len(cells), len(k.Columns), err)
		}
	}
}
