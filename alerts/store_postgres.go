package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresStore is the Store of production mode, on the alerts table of
// migrations/00020_alerts.sql.
type PostgresStore struct {
	pool *pgxpool.Pool
}

// NewPostgresStore returns a PostgresStore over pool, whose schema must be
// migrated.
func NewPostgresStore(pool *pgxpool.Pool) *PostgresStore { return &PostgresStore{pool: pool} }

func (s *PostgresStore) inTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	// After a commit this is a no-op; WithoutCancel gives the connection
	// back clean even when ctx was cancelled.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

const alertColumns = `id, institution_id, kind, level, opened_at, escalated_at, resolved_at, resolved_by, detail`

func scanAlert(row pgx.Row) (Alert, error) {
	var a Alert
	var by *string
	var detail []byte
	if err := row.Scan(&a.ID, &a.InstitutionID, &a.Kind, &a.Level, &a.OpenedAt, &a.EscalatedAt,
		&a.ResolvedAt, &by, &detail); err != nil {
		return Alert{}, err
	}
	if by != nil {
		a.ResolvedBy = *by
	}
	if err := json.Unmarshal(detail, &a.Detail); err != nil {
		return Alert{}, fmt.Errorf("alert %d: decode detail: %w", a.ID, err)
	}
	a.OpenedAt = a.OpenedAt.UTC()
	a.EscalatedAt, a.ResolvedAt = utc(a.EscalatedAt), utc(a.ResolvedAt)
	a.Detail.Since = a.Detail.Since.UTC()
	return a, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func collectAlerts(rows pgx.Rows) ([]Alert, error) {
	defer rows.Close()
	out := []Alert{}
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// State implements Store.
func (s *PostgresStore) State(ctx context.Context, institutionID int64) (State, error) {
	var st State
	err := s.inTx(ctx, "alert state", func(tx pgx.Tx) error {
		var err error
		st, err = StateTx(ctx, tx, institutionID)
		return err
	})
	return st, err
}

const openAlertsSQL = `SELECT ` + alertColumns + ` FROM alerts
	WHERE institution_id = $1 AND resolved_at IS NULL ORDER BY id`

// One probe of alerts_staff_resolved_idx per kind (open alerts have no
// resolved_by, so the index leaves them out).
const staffResolvedSQL = `SELECT k.kind, last.resolved_at
	FROM unnest($2::text[]) AS k(kind)
	CROSS JOIN LATERAL (SELECT resolved_at FROM alerts
		WHERE institution_id = $1 AND kind = k.kind AND resolved_by <> 'system'
		ORDER BY resolved_at DESC LIMIT 1) AS last`

// StateTx is State inside the caller's transaction (the evaluation job's
// Store.Update, which holds the institution's lock).
func StateTx(ctx context.Context, tx pgx.Tx, institutionID int64) (State, error) {
	rows, err := tx.Query(ctx, openAlertsSQL, institutionID)
	if err != nil {
		return State{}, fmt.Errorf("alert state of institution %d: %w", institutionID, err)
	}
	open, err := collectAlerts(rows)
	if err != nil {
		return State{}, fmt.Errorf("alert state of institution %d: %w", institutionID, err)
	}
	st := State{Open: open, StaffResolvedAt: map[Kind]time.Time{}}
	kinds := make([]string, len(Kinds))
	for i, k := range Kinds {
		kinds[i] = string(k)
	}
	rows, err = tx.Query(ctx, staffResolvedSQL, institutionID, kinds)
	if err != nil {
		return State{}, fmt.Errorf("alert state of institution %d: staff resolves: %w", institutionID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k Kind
		var at time.Time
		if err := rows.Scan(&k, &at); err != nil {
			return State{}, fmt.Errorf("alert state of institution %d: staff resolves: %w", institutionID, err)
		}
		st.StaffResolvedAt[k] = at.UTC()
	}
	if err := rows.Err(); err != nil {
		return State{}, fmt.Errorf("alert state of institution %d: staff resolves: %w", institutionID, err)
	}
	return st, nil
}

// Apply implements Store.
func (s *PostgresStore) Apply(ctx context.Context, ts []Transition) ([]Transition, error) {
	var done []Transition
	err := s.inTx(ctx, "apply alert transitions", func(tx pgx.Tx) error {
		var err error
		done, err = ApplyTx(ctx, tx, ts)
		return err
	})
	return done, err
}

// The partial unique index alerts_open_key turns a second raise of an open
// (institution, kind) into nothing: a concurrent raise waits for the first
// to commit, then conflicts.
const raiseSQL = `INSERT INTO alerts (institution_id, kind, level, opened_at, detail)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (institution_id, kind) WHERE resolved_at IS NULL DO NOTHING
	RETURNING ` + alertColumns

const escalateSQL = `UPDATE alerts SET level = $3, escalated_at = $4, detail = $5
	WHERE id = $1 AND level = $2 AND resolved_at IS NULL
	RETURNING ` + alertColumns

const resolveSQL = `UPDATE alerts SET resolved_at = $2, resolved_by = $3
	WHERE id = $1 AND resolved_at IS NULL
	RETURNING ` + alertColumns

// ApplyTx is Apply inside the caller's transaction, so that the
// transitions commit with whatever else it writes (the webhook jobs they
// cause, in the evaluation job).
func ApplyTx(ctx context.Context, tx pgx.Tx, ts []Transition) ([]Transition, error) {
	if err := checkActions(ts); err != nil {
		return nil, err
	}
	var done []Transition
	for _, t := range ts {
		a := t.Alert
		var row pgx.Row
		switch t.Action {
		case ActionRaise:
			detail, err := json.Marshal(a.Detail)
			if err != nil {
				return nil, fmt.Errorf("raise alert: encode detail: %w", err)
			}
			row = tx.QueryRow(ctx, raiseSQL, a.InstitutionID, a.Kind, a.Level, a.OpenedAt, detail)
		case ActionEscalate:
			detail, err := json.Marshal(a.Detail)
			if err != nil {
				return nil, fmt.Errorf("escalate alert %d: encode detail: %w", a.ID, err)
			}
			row = tx.QueryRow(ctx, escalateSQL, a.ID, t.From, a.Level, a.EscalatedAt, detail)
		case ActionResolve:
			row = tx.QueryRow(ctx, resolveSQL, a.ID, a.ResolvedAt, a.ResolvedBy)
		}
		got, err := scanAlert(row)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // another evaluator got there first
		}
		if err != nil {
			return nil, fmt.Errorf("%s alert %d of institution %d: %w", t.Action, a.ID, a.InstitutionID, err)
		}
		t.Alert = got
		done = append(done, t)
	}
	return done, nil
}

// Alert implements Store.
func (s *PostgresStore) Alert(ctx context.Context, id int64) (Alert, error) {
	a, err := scanAlert(s.pool.QueryRow(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Alert{}, notFound(id)
	}
	if err != nil {
		return Alert{}, fmt.Errorf("alert %d: %w", id, err)
	}
	return a, nil
}

const listSQL = `SELECT ` + alertColumns + ` FROM alerts
	WHERE ($1 = '' OR ($1 = 'open') = (resolved_at IS NULL))
	  AND ($2::bigint[] IS NULL OR institution_id = ANY ($2))
	ORDER BY id DESC LIMIT $3`

// List implements Store.
func (s *PostgresStore) List(ctx context.Context, f Filter) ([]Alert, error) {
	ids := f.InstitutionIDs
	if ids != nil && len(ids) == 0 {
		return []Alert{}, nil
	}
	rows, err := s.pool.Query(ctx, listSQL, string(f.Status), ids, f.limit())
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	out, err := collectAlerts(rows)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

// Resolve implements Store.
func (s *PostgresStore) Resolve(ctx context.Context, id int64, now time.Time, actor string) (Transition, error) {
	var t Transition
	err := s.inTx(ctx, fmt.Sprintf("resolve alert %d", id), func(tx pgx.Tx) error {
		var err error
		t, err = ResolveTx(ctx, tx, id, now, actor)
		return err
	})
	return t, err
}

// ResolveTx is Resolve inside the caller's transaction, so that the
// alert.resolved webhook commits with the resolve.
func ResolveTx(ctx context.Context, tx pgx.Tx, id int64, now time.Time, actor string) (Transition, error) {
	a, err := scanAlert(tx.QueryRow(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Transition{}, notFound(id)
	}
	if err != nil {
		return Transition{}, fmt.Errorf("resolve alert %d: %w", id, err)
	}
	t, err := ResolveByStaff(a, now, actor)
	if err != nil {
		return Transition{}, err
	}
	done, err := ApplyTx(ctx, tx, []Transition{t})
	if err != nil {
		return Transition{}, err
	}
	if len(done) != 1 {
		return Transition{}, fmt.Errorf("resolve alert %d: the locked open alert did not resolve", id)
	}
	return done[0], nil
}

// CountOpen implements Store.
func (s *PostgresStore) CountOpen(ctx context.Context) (map[Kind]map[Level]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT kind, level, count(*) FROM alerts WHERE resolved_at IS NULL GROUP BY kind, level`)
	if err != nil {
		return nil, fmt.Errorf("count open alerts: %w", err)
	}
	defer rows.Close()
	out := map[Kind]map[Level]int{}
	for rows.Next() {
		var k Kind
		var l Level
		var n int
		if err := rows.Scan(&k, &l, &n); err != nil {
			return nil, fmt.Errorf("count open alerts: %w", err)
		}
		if out[k] == nil {
			out[k] = map[Level]int{}
		}
		out[k][l] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count open alerts: %w", err)
	}
	return out, nil
}
