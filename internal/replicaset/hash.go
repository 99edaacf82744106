package replicaset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
)

// TemplateHash is the pod-template hash of template: a short, stable name for
// one version of a Rollout. collisionCount, when set, is mixed in so that a
// hash already taken by a different template can be replaced by another.
//
// It is the hash Argo Rollouts computes, so that `ramp migrate` hands a
// running Argo Rollout's ReplicaSets to Ramp under the names they have: FNV-1a
// over the template's JSON encoding as Kubernetes' Go types wrote it before
// metadata.creationTimestamp became omitted when zero (it is written as null),
// then, with a collision count, its value as 8 little-endian bytes; the sum
// in decimal, rendered with the safe alphabet Kubernetes uses for generated
// names. The controller finds a ReplicaSet it made by its template digest
// (TemplateDigest), not by this hash, so a ReplicaSet named by an earlier
// encoding is still found.
func TemplateHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	b, err := json.Marshal(legacyTemplate{Metadata: legacyMeta(template.ObjectMeta), Spec: &template.Spec})
	if err != nil {
		// A PodTemplateSpec always encodes; keep the hash total anyway.
		b = []byte(template.String())
	}
	_, _ = h.Write(b)
	if collisionCount != nil {
		var buf [8]byte
		binary.LittleEndian.PutUint32(buf[:], uint32(*collisionCount))
		_, _ = h.Write(buf[:])
	}
	return rand.SafeEncodeString(uintToString(h.Sum32()))
}

// legacyTemplate encodes a PodTemplateSpec as k8s.io/api's types did up to
// Kubernetes 1.33.
type legacyTemplate struct {
	Metadata legacyObjectMeta `json:"metadata"`
	Spec     *corev1.PodSpec  `json:"spec,omitempty"`
}

// legacyObjectMeta is metav1.ObjectMeta's fields in their order, with
// creationTimestamp always written (null when zero).
type legacyObjectMeta struct {
	Name                       string                      `json:"name,omitempty"`
	GenerateName               string                      `json:"generateName,omitempty"`
	Namespace                  string                      `json:"namespace,omitempty"`
	SelfLink                   string                      `json:"selfLink,omitempty"`
	UID                        types.UID                   `json:"uid,omitempty"`
	ResourceVersion            string                      `json:"resourceVersion,omitempty"`
	Generation                 int64                       `json:"generation,omitempty"`
	CreationTimestamp          *metav1.Time                `json:"creationTimestamp"`
	DeletionTimestamp          *metav1.Time                `json:"deletionTimestamp,omitempty"`
	DeletionGracePeriodSeconds *int64                      `json:"deletionGracePeriodSeconds,omitempty"`
	Labels                     map[string]string           `json:"labels,omitempty"`
	Annotations                map[string]string           `json:"annotations,omitempty"`
	OwnerReferences            []metav1.OwnerReference     `json:"ownerReferences,omitempty"`
	Finalizers                 []string                    `json:"finalizers,omitempty"`
	ManagedFields              []metav1.ManagedFieldsEntry `json:"managedFields,omitempty"`
}

func legacyMeta(m metav1.ObjectMeta) legacyObjectMeta {
	out := legacyObjectMeta{
		Name: m.Name, GenerateName: m.GenerateName, Namespace: m.Namespace, SelfLink: m.SelfLink,
		UID: m.UID, ResourceVersion: m.ResourceVersion, Generation: m.Generation,
		DeletionTimestamp: m.DeletionTimestamp, DeletionGracePeriodSeconds: m.DeletionGracePeriodSeconds,
		Labels: m.Labels, Annotations: m.Annotations, OwnerReferences: m.OwnerReferences,
		Finalizers: m.Finalizers, ManagedFields: m.ManagedFields,
	}
	if !m.CreationTimestamp.IsZero() {
		out.CreationTimestamp = &m.CreationTimestamp
	}
	return out
}

// TemplateDigest is the SHA-256 of template's JSON encoding, in hex: the
// identity of a template, where TemplateHash is only its short name.
func TemplateDigest(template *corev1.PodTemplateSpec) string {
	b, err := json.Marshal(template)
	if err != nil {
		b = []byte(template.String())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func uintToString(v uint32) string {
	const digits = "0123456789"
	if v == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = digits[v%10]
		v /= 10
	}
	return string(b[i:])
}
