package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"riverqueue.com/riverui"
)

// UI returns River UI, the page of every queue of jobs, their failures and
// retries, for this client's database (PostgreSQL, or the embedded SQLite:
// River UI serves both), mounted at prefix. It is started on a context of
// its own; stop ends it.
func (c *Client) UI(ctx context.Context, log *slog.Logger, prefix string) (h http.Handler, stop func(), err error) {
	var ep = riverui.NewEndpoints(c.lite, nil)
	if c.pg != nil {
		ep = riverui.NewEndpoints(c.pg, nil)
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: ep, Logger: log, Prefix: prefix})
	if err != nil {
		return nil, nil, fmt.Errorf("river ui: %w", err)
	}
	uictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if err := ui.Start(uictx); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("river ui: start: %w", err)
	}
	return ui, cancel, nil
}
