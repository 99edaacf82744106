package replicaset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// TemplateHash is the pod-template hash of template: a short, stable name for
// one version of a Rollout. collisionCount, when set, is mixed in so that a
// hash already taken by a different template can be replaced by another.
//
// The hash is FNV-1a over the template's JSON encoding (map keys sorted, so
// stable across processes), rendered with the safe alphabet Kubernetes uses
// for generated names.
func TemplateHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	b, err := json.Marshal(template)
	if err != nil {
		// A PodTemplateSpec always encodes; keep the hash total anyway.
		b = []byte(template.String())
	}
	_, _ = h.Write(b)
	if collisionCount != nil {
		var buf [4]byte
		binary.LittleEndian.PutUint32(buf[:], uint32(*collisionCount))
		_, _ = h.Write(buf[:])
	}
	return rand.SafeEncodeString(uintToString(h.Sum32()))
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
