package prometheus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// NewSigV4 signs requests with creds for region, at the time now says.
func NewSigV4(creds aws.CredentialsProvider, region string, next http.RoundTripper, now func() time.Time) http.RoundTripper {
	return &sigV4{creds: creds, region: region, next: next, now: now, signer: v4.NewSigner()}
}

type sigV4 struct {
	creds  aws.CredentialsProvider
	region string
	next   http.RoundTripper
	now    func() time.Time
	signer *v4.Signer
}

func (s *sigV4) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	// Headers with no value (net/http's Idempotency-Key marker) are never
	// sent: signing them would make the signature one the server cannot
	// reproduce.
	for k, v := range r.Header {
		if len(v) == 0 {
			delete(r.Header, k)
		}
	}
	sum := sha256.Sum256(body)
	creds, err := s.creds.Retrieve(r.Context())
	if err != nil {
		return nil, fmt.Errorf("sigv4: credentials: %w", err)
	}
	if err := s.signer.SignHTTP(r.Context(), creds, r, hex.EncodeToString(sum[:]), "aps", s.region, s.now()); err != nil {
		return nil, fmt.Errorf("sigv4: signing: %w", err)
	}
	return s.next.RoundTrip(r)
}
