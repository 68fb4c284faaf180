package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"riverqueue.com/riverui"
)

// UI returns River UI, the page of every queue of jobs, their failures and
// retries, for this client's database (PostgreSQL, or the embedded SQLite:
// River UI serves both), mounted at prefix. It is started on a context of
// its own; stop ends it.
func (c *Client) UI(ctx context.Context, log *slog.Logger, prefix string) (h http.Handler, stop func(), err error) {
	uictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	build := func() (http.Handler, error) {
		var ep = riverui.NewEndpoints(c.lite, nil)
		if c.pg != nil {
			ep = riverui.NewEndpoints(c.pg, nil)
		}
		ui, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: ep, Logger: log, Prefix: prefix})
		if err != nil {
			return nil, fmt.Errorf("river ui: %w", err)
		}
		if err := ui.Start(uictx); err != nil {
			return nil, fmt.Errorf("river ui: start: %w", err)
		}
		return ui, nil
	}
	if c.pg != nil {
		ui, err := build()
		if err != nil {
			cancel()
			return nil, nil, err
		}
		return ui, cancel, nil
	}
	// Embedded: built on the first request, once the database is set up.
	var once sync.Once
	var ui http.Handler
	var uiErr error
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := c.wait(r.Context()); err != nil {
			http.Error(w, "the job database is not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		once.Do(func() { ui, uiErr = build() })
		if uiErr != nil {
			http.Error(w, uiErr.Error(), http.StatusInternalServerError)
			return
		}
		ui.ServeHTTP(w, r)
	}), cancel, nil
}
