package auth

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/queue"
)

// PostgresStore keeps tokens in PostgreSQL.
type PostgresStore struct{ pool *pgxpool.Pool }

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a PostgresStore over pool.
func NewPostgresStore(pool *pgxpool.Pool) *PostgresStore { return &PostgresStore{pool: pool} }

const insertToken = `INSERT INTO tokens (name, role, hash, institution_ids, created_at)
VALUES ($1, $2, $3, $4, $5) RETURNING id`

// CreateToken implements Store.
func (s *PostgresStore) CreateToken(ctx context.Context, t Token) (Token, error) {
	err := s.pool.QueryRow(ctx, insertToken, t.Name, string(t.Role), t.Hash, t.InstitutionIDs, t.CreatedAt).Scan(&t.ID)
	if err != nil {
		return Token{}, queue.TranslateDBError(err, "create token")
	}
	return t, nil
}

const selectTokenByHash = `SELECT id, name, role, institution_ids, created_at FROM tokens WHERE hash = $1`

// TokenByHash implements Store.
func (s *PostgresStore) TokenByHash(ctx context.Context, hash []byte) (Token, error) {
	var t Token
	var role string
	err := s.pool.QueryRow(ctx, selectTokenByHash, hash).Scan(&t.ID, &t.Name, &role, &t.InstitutionIDs, &t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, queue.Errorf(queue.CodeNotFound, "token not found")
	}
	if err != nil {
		return Token{}, queue.TranslateDBError(err, "find token")
	}
	t.Role, t.Hash = Role(role), hash
	return t, nil
}
