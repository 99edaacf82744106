package prometheus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// SignerFactory wraps next in a round tripper that signs each request with
// AWS Signature V4 for the service "aps" (Amazon Managed Service for
// Prometheus).
type SignerFactory func(ctx context.Context, cfg v1alpha1.Sigv4Config, next http.RoundTripper) (http.RoundTripper, error)

// DefaultSigner takes credentials from the AWS default chain (environment,
// shared profile, IRSA web identity, EKS Pod Identity, instance role), with
// the metric's region and profile, assuming roleArn when it is set.
func DefaultSigner(ctx context.Context, s v1alpha1.Sigv4Config, next http.RoundTripper) (http.RoundTripper, error) {
	var opts []func(*config.LoadOptions) error
	if s.Region != "" {
		opts = append(opts, config.WithRegion(s.Region))
	}
	if s.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(s.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if s.RoleARN != "" {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), s.RoleARN))
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("no region: set authentication.sigv4.region")
	}
	return NewSigV4(cfg.Credentials, cfg.Region, next, time.Now), nil
}

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
