package httpapi

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/stats"
)

// stats is GET /api/v1/institutions/{id}/stats?from=T&to=T (staff, admin):
// the figures of the tickets issued in [from, to), by hour of the
// institution's timezone (statsLocation).
func (s *Server) stats(c echo.Context) error {
	id, err := s.managedID(c)
	if err != nil {
		return err
	}
	p, err := stats.ParsePeriod(c.QueryParam("from"), c.QueryParam("to"), stats.MaxStatsPeriod)
	if err != nil {
		return err
	}
	src, err := s.statsSource()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	inst, err := s.q.Institution(ctx, id)
	if err != nil {
		return err
	}
	st, err := src.Stats(ctx, id, p, statsLocation(inst))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) statsSource() (stats.Source, error) {
	if s.cfg.Stats == nil {
		return nil, queue.Errorf(queue.CodeUnavailable, "stats are not configured on this server")
	}
	return s.cfg.Stats, nil
}

// exportColumns are the CSV's columns; phone is added last when asked.
var exportColumns = []string{"number", "label", "service", "priority", "source", "status",
	"issued_at", "called_at", "checked_in_at", "completed_at", "counter",
	"wait_seconds", "service_seconds", "estimate_at_join_seconds"}

// ticketsCSV is GET /api/v1/institutions/{id}/tickets.csv?from&to (staff,
// admin): the tickets issued in [from, to) (at most 32 days), one line
// each in number order. The phone column comes only with ?phone=1, for an
// admin. Ticket ids are left out: an id is its citizen's capability, and a
// spreadsheet travels.
func (s *Server) ticketsCSV(c echo.Context) error {
	id, err := s.managedID(c)
	if err != nil {
		return err
	}
	p, err := stats.ParsePeriod(c.QueryParam("from"), c.QueryParam("to"), stats.MaxExportPeriod)
	if err != nil {
		return err
	}
	var phone bool
	switch c.QueryParam("phone") {
	case "", "0":
	case "1":
		if !principal(c).Admin() {
			return queue.Errorf(queue.CodeForbidden, "phone=1: only an admin token may export phone numbers")
		}
		phone = true
	default:
		return queue.Errorf(queue.CodeInvalid, "phone must be 1 or 0")
	}
	src, err := s.statsSource()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.q.Institution(ctx, id); err != nil {
		return err
	}
	columns := exportColumns
	if phone {
		columns = append(columns[:len(columns):len(columns)], "phone")
	}
	res := c.Response()
	w := csv.NewWriter(res)
	// The header goes out with the first ticket (or at the end): an error
	// before it is still the contract's error body.
	started := false
	start := func() error {
		if started {
			return nil
		}
		started = true
		h := res.Header()
		h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="institution-%d-tickets-%s.csv"`, id, p.From.Format("2006-01-02")))
		h.Set("Cache-Control", "no-store")
		res.WriteHeader(http.StatusOK)
		return w.Write(columns)
	}
	err = src.Tickets(ctx, id, p, func(t queue.Ticket) error {
		if err := start(); err != nil {
			return err
		}
		return w.Write(exportRow(t, phone))
	})
	if err == nil {
		err = start()
	}
	if err != nil {
		if !started {
			return err
		}
		// Mid-stream: the status is sent; the cut-short body is the signal.
		s.log.WarnContext(ctx, "tickets.csv cut short", "institution", id, "error", err)
		return nil
	}
	w.Flush()
	return w.Error()
}

func exportRow(t queue.Ticket, phone bool) []string {
	row := []string{strconv.FormatInt(t.Number, 10), cell(t.Label), cell(t.Service), "", cell(t.Source), string(t.Status),
		csvTime(&t.IssuedAt), csvTime(t.CalledAt), csvTime(t.CheckedInAt), csvTime(t.CompletedAt), "", "", "", ""}
	if t.Priority != nil {
		row[3] = cell(string(*t.Priority))
	}
	if t.Counter != nil {
		row[10] = cell(*t.Counter)
	}
	if t.CalledAt != nil {
		row[11] = csvSeconds(t.CalledAt.Sub(t.IssuedAt))
		if t.Status == queue.TicketServed && t.CompletedAt != nil {
			row[12] = csvSeconds(t.CompletedAt.Sub(*t.CalledAt))
		}
	}
	if t.EstimateAtJoin != nil {
		row[13] = strconv.FormatInt(*t.EstimateAtJoin, 10)
	}
	if phone {
		p := ""
		if t.Phone != nil {
			p = *t.Phone
		}
		row = append(row, cell(p))
	}
	return row
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func csvSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Round(time.Millisecond).Seconds(), 'f', -1, 64)
}

// cell keeps a spreadsheet from reading a value as a formula (a counter
// name is free text): one that starts like a formula gets a leading quote.
func cell(v string) string {
	if v != "" {
		switch v[0] {
		case '=', '+', '-', '@', '\t', '\r':
			return "'" + v
		}
	}
	return v
}
