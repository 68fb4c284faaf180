package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/queueless/queueless/queue"
)

// Role is what a token may do.
type Role string

// Roles.
const (
	RoleStaff Role = "staff"
	RoleAdmin Role = "admin"
)

// Token is a stored bearer token (its hash only).
type Token struct {
	ID             int64     `json:"id"`
	Name           string    `json:"name"`
	Role           Role      `json:"role"`
	InstitutionIDs []int64   `json:"institution_ids"`
	CreatedAt      time.Time `json:"created_at"`
	Hash           []byte    `json:"-"`
}

// Principal is who a request acts as.
type Principal struct {
	TokenID        int64 // 0 for the configured admin token
	Role           Role
	InstitutionIDs []int64
}

// Actor names the principal in the audit trail.
func (p Principal) Actor() string {
	if p.TokenID == 0 {
		return "token:admin"
	}
	return fmt.Sprintf("token:%d", p.TokenID)
}

// Admin reports whether p may do everything.
func (p Principal) Admin() bool { return p.Role == RoleAdmin }

// CanManage returns nil when p may act on institution id, or a forbidden error.
func (p Principal) CanManage(id int64) error {
	if p.Admin() || slices.Contains(p.InstitutionIDs, id) {
		return nil
	}
	return queue.Errorf(queue.CodeForbidden, "this token may not act on institution %d", id)
}

// RequireAdmin returns a forbidden error unless p is an admin.
func (p Principal) RequireAdmin() error {
	if p.Admin() {
		return nil
	}
	return queue.Errorf(queue.CodeForbidden, "this needs an admin token")
}

// Store keeps tokens.
type Store interface {
	CreateToken(ctx context.Context, t Token) (Token, error)
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
}

// Service creates and checks tokens.
type Service struct {
	store     Store
	adminHash []byte // nil: no configured admin token
	now       func() time.Time
}

// NewService returns a Service; adminToken, when not empty, is accepted as
// an admin token as is.
func NewService(store Store, adminToken string) *Service {
	s := &Service{store: store, now: time.Now}
	if adminToken != "" {
		h := Hash(adminToken)
		s.adminHash = h[:]
	}
	return s
}

// Hash returns the stored form of a token.
func Hash(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// Authenticate returns the principal of a bearer token.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" || len(token) > 256 {
		return Principal{}, queue.Errorf(queue.CodeUnauthorized, "a valid bearer token is required")
	}
	h := Hash(token)
	if s.adminHash != nil && subtle.ConstantTimeCompare(h[:], s.adminHash) == 1 {
		return Principal{Role: RoleAdmin}, nil
	}
	// The lookup is by hash: timing reveals nothing about the token itself.
	t, err := s.store.TokenByHash(ctx, h[:])
	if err != nil {
		if queue.IsNotFound(err) {
			return Principal{}, queue.Errorf(queue.CodeUnauthorized, "unknown bearer token")
		}
		return Principal{}, err
	}
	return Principal{TokenID: t.ID, Role: t.Role, InstitutionIDs: t.InstitutionIDs}, nil
}

// NewToken is a request for a token.
type NewToken struct {
	Name           string
	Role           Role
	InstitutionIDs []int64
}

// Create makes a token and returns it with its secret, shown only now.
// exists checks that each institution exists.
func (s *Service) Create(ctx context.Context, req NewToken, exists func(context.Context, int64) error) (Token, string, error) {
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		return Token{}, "", queue.Errorf(queue.CodeInvalid, "name must be 1 to 100 characters")
	}
	if req.Role == "" {
		req.Role = RoleStaff
	}
	switch req.Role {
	case RoleStaff:
		if len(req.InstitutionIDs) == 0 || len(req.InstitutionIDs) > 1000 {
			return Token{}, "", queue.Errorf(queue.CodeInvalid, "a staff token needs 1 to 1000 institution_ids")
		}
	case RoleAdmin:
	default:
		return Token{}, "", queue.Errorf(queue.CodeInvalid, "role must be staff or admin")
	}
	ids := slices.Clone(req.InstitutionIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		if id < 1 {
			return Token{}, "", queue.Errorf(queue.CodeInvalid, "institution_ids must be positive integers")
		}
		if err := exists(ctx, id); err != nil {
			if queue.IsNotFound(err) {
				return Token{}, "", queue.Errorf(queue.CodeInvalid, "institution %d does not exist", id)
			}
			return Token{}, "", err
		}
	}
	if ids == nil {
		ids = []int64{}
	}
	secret := NewSecret()
	h := Hash(secret)
	t, err := s.store.CreateToken(ctx, Token{Name: req.Name, Role: req.Role, InstitutionIDs: ids, Hash: h[:], CreatedAt: s.now().UTC()})
	if err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

// NewSecret returns a random token: 32 bytes, URL-safe base64, prefixed.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "ql_" + base64.RawURLEncoding.EncodeToString(b)
}
