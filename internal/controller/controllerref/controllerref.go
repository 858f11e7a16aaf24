// Package controllerref builds the patches controllers use to adopt and
// release the objects their selectors match (ownerReferences with
// controller: true).
package controllerref

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// AdoptPatch is a strategic merge patch adding ref to an object's
// ownerReferences; uid makes it fail if the object was replaced meanwhile.
func AdoptPatch(ref *metav1.OwnerReference, uid types.UID) []byte {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []*metav1.OwnerReference{ref},
		"uid":             uid,
	}})
	return b
}

// ReleasePatch is a strategic merge patch removing the owner reference with
// ownerUID from the object with uid.
func ReleasePatch(ownerUID, uid types.UID) []byte {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []map[string]any{{"$patch": "delete", "uid": ownerUID}},
		"uid":             uid,
	}})
	return b
}
