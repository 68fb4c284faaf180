package migrations

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
)

// River's tables (river_job, river_leader, ...) are created by River's own
// migrator, run as a goose Go migration in goose's transaction and under
// goose's lock: one tool applies and checks the whole schema, instances
// that start together queue on one lock, and `queueless migrate` and
// AUTO_MIGRATE=false's check cover River's tables too. Each goose version
// pins River's target version, so a schema is the same whichever River
// release applied it; a River upgrade that adds migrations gets a new goose
// version with the new target.
//
// River's version 4 adds an enum value that version 6 uses, and PostgreSQL
// refuses a new enum value in the transaction that added it: hence two
// goose versions.
var riverMigrations = []*goose.Migration{
	riverMigration(13, 4, 0),
	riverMigration(14, 8, 4),
}

// riverMigration moves River's schema from version down (0: none) up to
// version up at goose version v.
func riverMigration(v int64, up, down int) *goose.Migration {
	run := func(target int, dir rivermigrate.Direction) func(ctx context.Context, tx *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			m, err := rivermigrate.New(riverdatabasesql.New(nil), nil)
			if err != nil {
				return fmt.Errorf("river migrator: %w", err)
			}
			opts := &rivermigrate.MigrateOpts{TargetVersion: target}
			if dir == rivermigrate.DirectionDown && target == 0 {
				opts.TargetVersion = -1 // River's way of saying "every version"
			}
			if _, err := m.MigrateTx(ctx, tx, dir, opts); err != nil {
				return fmt.Errorf("river migrate %s to %d: %w", dir, target, err)
			}
			return nil
		}
	}
	return goose.NewGoMigration(v,
		&goose.GoFunc{RunTx: run(up, rivermigrate.DirectionUp)},
		&goose.GoFunc{RunTx: run(down, rivermigrate.DirectionDown)})
}
