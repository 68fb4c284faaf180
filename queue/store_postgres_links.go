package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresLinkStore is the LinkStore of a deployment. Its lease is a pair
// of columns of the link's row, compared with the database's clock, so that
// the instances sharing the database need not agree on the time.
type PostgresLinkStore struct {
	pool *pgxpool.Pool
}

var _ LinkStore = (*PostgresLinkStore)(nil)

// NewPostgresLinkStore returns a PostgresLinkStore over pool, whose schema
// must be migrated.
func NewPostgresLinkStore(pool *pgxpool.Pool) *PostgresLinkStore {
	return &PostgresLinkStore{pool: pool}
}

const linkColumns = `institution_id, mode, url, poll_interval_ms, stale_after_ms, secret,
	outside_now_serving, outside_last_issued, outside_calls, outside_updated_at,
	last_success_at, last_attempt_at, last_error, consecutive_failures, stale, breaker,
	lease_owner, lease_until, created_at, updated_at`

// putLinkSQL replaces the configuration and starts status and lease afresh:
// a link pointed somewhere else has seen nothing there yet.
const putLinkSQL = `INSERT INTO links (institution_id, mode, url, poll_interval_ms, stale_after_ms, secret,
		created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, now(), now())
	ON CONFLICT (institution_id) DO UPDATE SET mode = excluded.mode, url = excluded.url,
		poll_interval_ms = excluded.poll_interval_ms, stale_after_ms = excluded.stale_after_ms,
		secret = excluded.secret, outside_now_serving = NULL, outside_last_issued = NULL,
		outside_calls = '[]', outside_updated_at = NULL, last_success_at = NULL, last_attempt_at = NULL,
		last_error = '', consecutive_failures = 0, stale = false, breaker = 'closed',
		lease_owner = '', lease_until = NULL, updated_at = now()
	RETURNING ` + linkColumns

// PutLink implements LinkStore.
func (s *PostgresLinkStore) PutLink(ctx context.Context, l Link) (Link, error) {
	rows, _ := s.pool.Query(ctx, putLinkSQL, l.InstitutionID, string(l.Mode), l.URL,
		l.PollInterval.Milliseconds(), l.StaleAfter.Milliseconds(), l.Secret)
	out, err := pgx.CollectExactlyOneRow(rows, scanLink)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
			return Link{}, notFoundInst(l.InstitutionID)
		}
		return Link{}, translate(err, fmt.Sprintf("put link of institution %d", l.InstitutionID))
	}
	return out, nil
}

// Link implements LinkStore.
func (s *PostgresLinkStore) Link(ctx context.Context, id int64) (Link, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+linkColumns+` FROM links WHERE institution_id = $1`, id)
	l, err := pgx.CollectExactlyOneRow(rows, scanLink)
	if errors.Is(err, pgx.ErrNoRows) {
		return Link{}, notFoundLink(id)
	}
	if err != nil {
		return Link{}, translate(err, fmt.Sprintf("read link of institution %d", id))
	}
	return l, nil
}

// Links implements LinkStore.
func (s *PostgresLinkStore) Links(ctx context.Context) ([]Link, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+linkColumns+` FROM links ORDER BY institution_id`)
	list, err := pgx.CollectRows(rows, scanLink)
	if err != nil {
		return nil, translate(err, "list links")
	}
	return list, nil
}

// DeleteLink implements LinkStore.
func (s *PostgresLinkStore) DeleteLink(ctx context.Context, id int64) error {
	ct, err := s.pool.Exec(ctx, `DELETE FROM links WHERE institution_id = $1`, id)
	if err != nil {
		return translate(err, fmt.Sprintf("delete link of institution %d", id))
	}
	if ct.RowsAffected() == 0 {
		return notFoundLink(id)
	}
	return nil
}

// The owner check and the write are one statement: a poller whose lease ran
// out while it waited for the outside system cannot overwrite the status
// its successor has since recorded.
const setLinkStatusSQL = `UPDATE links SET outside_now_serving = $3, outside_last_issued = $4,
		outside_calls = $5, outside_updated_at = $6, last_success_at = $7, last_attempt_at = $8,
		last_error = $9, consecutive_failures = $10, stale = $11, breaker = $12
	WHERE institution_id = $1 AND ($2 = '' OR (lease_owner = $2 AND lease_until > clock_timestamp()))`

// SetLinkStatus implements LinkStore.
func (s *PostgresLinkStore) SetLinkStatus(ctx context.Context, id int64, owner string, st LinkStatus) (bool, error) {
	var serving, issued *int64
	var updated *time.Time
	calls := []Call{}
	if o := st.Outside; o != nil {
		serving, issued, updated = &o.NowServing, &o.LastIssued, o.UpdatedAt
		if o.Calls != nil {
			calls = o.Calls
		}
	}
	breaker := st.Breaker
	if breaker == "" {
		breaker = BreakerClosed
	}
	ct, err := s.pool.Exec(ctx, setLinkStatusSQL, id, owner, serving, issued, calls, updated,
		st.LastSuccessAt, st.LastAttemptAt, truncateText(st.LastError, 500), st.ConsecutiveFailures, st.Stale, breaker)
	if err != nil {
		return false, translate(err, fmt.Sprintf("record status of link %d", id))
	}
	if ct.RowsAffected() == 0 && owner == "" {
		return false, notFoundLink(id)
	}
	return ct.RowsAffected() == 1, nil
}

const acquireLeaseSQL = `UPDATE links
	SET lease_owner = $2, lease_until = clock_timestamp() + $3::interval
	WHERE institution_id = $1 AND mode = 'poll'
		AND (lease_owner = $2 OR lease_until IS NULL OR lease_until <= clock_timestamp())`

// AcquireLinkLease implements LinkStore.
func (s *PostgresLinkStore) AcquireLinkLease(ctx context.Context, id int64, owner string, ttl time.Duration) (bool, error) {
	ct, err := s.pool.Exec(ctx, acquireLeaseSQL, id, owner, ttl)
	if err != nil {
		return false, translate(err, fmt.Sprintf("acquire lease of link %d", id))
	}
	return ct.RowsAffected() == 1, nil
}

// ReleaseLinkLease implements LinkStore.
func (s *PostgresLinkStore) ReleaseLinkLease(ctx context.Context, id int64, owner string) error {
	_, err := s.pool.Exec(ctx, `UPDATE links SET lease_owner = '', lease_until = NULL
		WHERE institution_id = $1 AND lease_owner = $2`, id, owner)
	if err != nil {
		return translate(err, fmt.Sprintf("release lease of link %d", id))
	}
	return nil
}

func scanLink(row pgx.CollectableRow) (Link, error) {
	var l Link
	var mode string
	var pollMS, staleMS int64
	var serving, issued *int64
	var calls []Call
	var updated *time.Time
	err := row.Scan(&l.InstitutionID, &mode, &l.URL, &pollMS, &staleMS, &l.Secret,
		&serving, &issued, &calls, &updated,
		&l.LastSuccessAt, &l.LastAttemptAt, &l.LastError, &l.ConsecutiveFailures, &l.Stale, &l.Breaker,
		&l.LeaseOwner, &l.LeaseUntil, &l.CreatedAt, &l.UpdatedAt)
	if err != nil {
		return Link{}, err
	}
	l.Mode = LinkMode(mode)
	l.PollInterval, l.StaleAfter = time.Duration(pollMS)*time.Millisecond, time.Duration(staleMS)*time.Millisecond
	if serving != nil && issued != nil {
		for i := range calls {
			calls[i].CalledAt = calls[i].CalledAt.UTC()
		}
		l.Outside = &OutsideQueue{NowServing: *serving, LastIssued: *issued, Calls: calls, UpdatedAt: utc(updated)}
	}
	l.LastSuccessAt, l.LastAttemptAt, l.LeaseUntil = utc(l.LastSuccessAt), utc(l.LastAttemptAt), utc(l.LeaseUntil)
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	return l, nil
}

// truncateText cuts s to at most n runes.
func truncateText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
