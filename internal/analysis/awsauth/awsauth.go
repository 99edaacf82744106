package awsauth

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rampdev/ramp/api/v1alpha1"
)

// Identity is what requests are signed with.
type Identity struct {
	Credentials aws.CredentialsProvider
	Region      string
}

// LoadFunc loads the identity of a sigv4 block. Default loads it from the
// AWS default chain; tests give static credentials.
type LoadFunc func(ctx context.Context, s v1alpha1.Sigv4Config) (Identity, error)

// Identities finds and keeps identities. The zero value allows no profile
// and no role, and loads with Default.
type Identities struct {
	// AllowedRoles are the role ARNs templates may assume
	// (--aws-allowed-role-arns).
	AllowedRoles []string
	// AllowedProfiles are the shared-config profiles templates may name
	// (--aws-allowed-profiles).
	AllowedProfiles []string
	// Load loads an identity; nil is Default.
	Load LoadFunc

	mu   sync.Mutex
	kept map[v1alpha1.Sigv4Config]Identity
}

// maxKept bounds the identities kept (each distinct sigv4 block is one).
const maxKept = 64

// For is the identity of a sigv4 block: refused when it names a profile or
// a role the controller does not allow, loaded once and reused after.
func (ids *Identities) For(ctx context.Context, s v1alpha1.Sigv4Config) (Identity, error) {
	if s.RoleARN != "" && !slices.Contains(ids.AllowedRoles, s.RoleARN) {
		return Identity{}, fmt.Errorf("sigv4: roleArn %s is not among the roles this controller may assume (its --aws-allowed-role-arns)", s.RoleARN)
	}
	if s.Profile != "" && !slices.Contains(ids.AllowedProfiles, s.Profile) {
		return Identity{}, fmt.Errorf("sigv4: profile %s is not among the profiles this controller may use (its --aws-allowed-profiles)", s.Profile)
	}
	ids.mu.Lock()
	id, ok := ids.kept[s]
	ids.mu.Unlock()
	if ok {
		return id, nil
	}
	load := ids.Load
	if load == nil {
		load = Default
	}
	id, err := load(ctx, s)
	if err != nil {
		return Identity{}, fmt.Errorf("sigv4: %w", err)
	}
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if ids.kept == nil || len(ids.kept) >= maxKept {
		ids.kept = map[v1alpha1.Sigv4Config]Identity{}
	}
	ids.kept[s] = id
	return id, nil
}

// Default loads an identity from the AWS default chain with the block's
// region and profile, assuming roleArn when set. Credentials are cached
// and refreshed before they expire.
func Default(ctx context.Context, s v1alpha1.Sigv4Config) (Identity, error) {
	var opts []func(*config.LoadOptions) error
	if s.Region != "" {
		opts = append(opts, config.WithRegion(s.Region))
	}
	if s.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(s.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return Identity{}, err
	}
	if cfg.Region == "" {
		return Identity{}, fmt.Errorf("no region: set authentication.sigv4.region")
	}
	creds := cfg.Credentials
	if s.RoleARN != "" {
		creds = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), s.RoleARN))
	}
	return Identity{Credentials: creds, Region: cfg.Region}, nil
}
