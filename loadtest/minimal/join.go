package minimal

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// joins is the reference of the hot join benchmark: the least any Go HTTP
// server must do per join here. It routes, reads and discards the body,
// takes a number from a counter, and answers 201 with a body of the shape
// and size of QueueLess's ticket (docs/API contract), encoded with
// encoding/json as QueueLess's is. No database, no middleware, no log
// line; X-Forwarded-For is ignored. Numbers are counted per server, not
// per institution: the benchmark joins one institution.
type joins struct {
	issued   atomic.Int64
	idPrefix string // 24 characters of a UUID; the counter makes the last 12
}

func newJoins() *joins {
	var b [8]byte
	_, _ = rand.Read(b[:])
	hi, lo := binary.BigEndian.Uint32(b[:4]), binary.BigEndian.Uint32(b[4:])
	// Version 4 and the RFC 4122 variant, as uuid.NewString's.
	return &joins{idPrefix: fmt.Sprintf("%08x-%04x-4%03x-8%03x-", hi, lo>>16, lo&0xfff, (lo>>12)&0xfff)}
}

// ticket has the fields of QueueLess's public ticket, in its order.
type ticket struct {
	ID                   string     `json:"id"`
	InstitutionID        int64      `json:"institution_id"`
	Number               int64      `json:"number"`
	Status               string     `json:"status"`
	PeopleAhead          int64      `json:"people_ahead"`
	NowServing           int64      `json:"now_serving"`
	NearTurnThreshold    int        `json:"near_turn_threshold"`
	Counter              *string    `json:"counter"`
	EstimatedWaitSeconds *int64     `json:"estimated_wait_seconds"`
	IssuedAt             time.Time  `json:"issued_at"`
	CalledAt             *time.Time `json:"called_at"`
	CheckedInAt          *time.Time `json:"checked_in_at"`
	CompletedAt          *time.Time `json:"completed_at"`
	UpdatedAt            time.Time  `json:"updated_at"`
}

const nearTurnThreshold = 3 // QueueLess's default

// join answers POST /api/v1/institutions/{id}/tickets.
func (j *joins) join(w http.ResponseWriter, r *http.Request) {
	inst, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || inst <= 0 {
		http.Error(w, "institution id must be a positive integer", http.StatusBadRequest)
		return
	}
	if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 64<<10)); err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	n := j.issued.Add(1)
	// Microseconds, as PostgreSQL stores QueueLess's timestamps.
	now := time.Now().UTC().Truncate(time.Microsecond)
	t := ticket{ID: j.idPrefix + fmt.Sprintf("%012x", n), InstitutionID: inst, Number: n, Status: "waiting",
		PeopleAhead: n - 1, NearTurnThreshold: nearTurnThreshold, IssuedAt: now, UpdatedAt: now}
	if t.PeopleAhead <= nearTurnThreshold {
		t.Status = "notified"
	}
	body, err := json.Marshal(t)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
}
