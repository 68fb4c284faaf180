package auth

import (
	"bytes"
	"context"
	"sync"

	"github.com/queueless/queueless/queue"
)

// MemoryStore keeps tokens in memory (embedded mode).
type MemoryStore struct {
	mu     sync.Mutex
	tokens []Token
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// CreateToken implements Store.
func (m *MemoryStore) CreateToken(ctx context.Context, t Token) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.ID = int64(len(m.tokens) + 1)
	m.tokens = append(m.tokens, t)
	return t, nil
}

// TokenByHash implements Store.
func (m *MemoryStore) TokenByHash(ctx context.Context, hash []byte) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tokens {
		if bytes.Equal(t.Hash, hash) {
			return t, nil
		}
	}
	return Token{}, queue.Errorf(queue.CodeNotFound, "token not found")
}
