// Package controllerref is the ControllerRef machinery that the Deployment
// and ReplicaSet controllers share, as Kubernetes' ControllerRefManager and
// the controllers' resolveControllerRef do:
//
//   - in the informer event handlers, [Owners] finds the controller that an
//     object's ControllerRef names, or, for an orphan, the controllers whose
//     selector matches it (one of them may adopt it);
//   - in a sync, [Claimer] adopts the orphans that a controller's selector
//     matches and releases the objects it controls that the selector no
//     longer matches, with the patches [AdoptPatch] and [ReleasePatch].
//
// Both are generic over the owner's and the owned objects' types, so that a
// controller passes its own listers and typed clients.
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
