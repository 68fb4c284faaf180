package app

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// JobsPath is where River UI, the operators' page of every job queue, is
// mounted (admin token).
const JobsPath = "/admin/jobs"

// mountJobsUI mounts River UI at JobsPath behind the admin token (HTTP
// Basic with the token as password, so that the browser sends it with every
// request of the single-page app, or Bearer). River UI serves the
// embedded mode's SQLite driver as well as PostgreSQL's.
func (a *App) mountJobsUI(ctx context.Context) error {
	h, stop, err := a.Jobs.UI(ctx, a.log.With("component", "riverui"), JobsPath)
	if err != nil {
		return err
	}
	a.closers = append(a.closers, func(context.Context) { stop() })
	e := a.HTTP.Echo()
	wrapped := echo.WrapHandler(a.adminOnly(h))
	e.Any(JobsPath, wrapped)
	e.Any(JobsPath+"/*", wrapped)
	return nil
}

// adminOnly lets through requests that carry the admin token.
func (a *App) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := ""
		if _, pw, ok := r.BasicAuth(); ok {
			token = pw
		} else if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			token = strings.TrimSpace(t)
		}
		if token != "" {
			if p, err := a.Auth.Authenticate(r.Context(), token); err == nil && p.Admin() {
				next.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="QueueLess jobs (any user name, the admin token as password)", charset="UTF-8"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"code":"unauthorized","message":"the jobs page needs the admin token (HTTP Basic password or Bearer)","request_id":"` + w.Header().Get("X-Request-ID") + `"}`))
	})
}
