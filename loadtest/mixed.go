package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Mixed is a day at several offices: citizens browse, join, watch their
// ticket (polling, or following it live), check in when called or cancel,
// while staff call at every institution at a steady pace.
type Mixed struct {
	Institutions []int64 `json:"institutions"` // empty: create Offices
	Offices      int     `json:"offices"`
	Users        int     `json:"users"` // citizens at once, per run
	// LiveShare of citizens follow their ticket live; the others poll.
	LiveShare float64 `json:"live_share"`
	// CancelShare of citizens give up and cancel while waiting.
	CancelShare float64 `json:"cancel_share"`
	// NoShowShare of called citizens never check in (the ticket expires).
	NoShowShare  float64       `json:"no_show_share"`
	PollInterval time.Duration `json:"poll_interval"`
	Think        time.Duration `json:"think"` // between a citizen's visits
	// CallInterval is each office's pace of calls.
	CallInterval time.Duration `json:"call_interval"`
	// MaxWait is how long a citizen waits to be called before cancelling.
	MaxWait time.Duration `json:"max_wait"`
}

// Name implements Scenario.
func (m *Mixed) Name() string { return "mixed" }

func (m *Mixed) setup(ctx context.Context, r *Run) error {
	if m.Users <= 0 {
		m.Users = 50
	}
	if m.Offices <= 0 {
		m.Offices = 3
	}
	if m.PollInterval <= 0 {
		m.PollInterval = time.Second
	}
	if m.Think <= 0 {
		m.Think = time.Second
	}
	if m.CallInterval <= 0 {
		m.CallInterval = 300 * time.Millisecond
	}
	if m.MaxWait <= 0 {
		m.MaxWait = 20 * time.Second
	}
	if len(m.Institutions) == 0 {
		for i := range m.Offices {
			id, err := createInstitution(ctx, r.Client, fmt.Sprintf("Load test: office %d %s", i+1, time.Now().UTC().Format(time.RFC3339)))
			if err != nil {
				return err
			}
			m.Institutions = append(m.Institutions, id)
		}
	}
	return nil
}

func (m *Mixed) prepare(context.Context, *Run, Shard) error { return nil }
func (m *Mixed) leadEnds() bool                             { return false }

// lead is the staff: each office calls one ticket every CallInterval.
func (m *Mixed) lead(ctx context.Context, r *Run) error {
	ctx, cancel := context.WithTimeout(ctx, r.Opts.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for k, id := range m.Institutions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(m.CallInterval)
			defer tick.Stop()
			counter := fmt.Sprint(k%9 + 1)
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				_, _ = r.Client.Do(ctx, Req{Op: "call", Method: http.MethodPost, Path: instPath(id) + "/advance",
					Admin: true, Body: map[string]any{"count": 1, "counter": counter}})
			}
		}()
	}
	wg.Wait()
	return nil
}

func (m *Mixed) load(ctx context.Context, r *Run, sh Shard) error {
	ctx, cancel := context.WithTimeout(ctx, r.Opts.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := range sh.Part(m.Users) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := sh.Global(i)
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(g)))
			addr := ""
			if r.Opts.Addresses > 0 {
				addr = ClientAddr(g % r.Opts.Addresses)
			} else {
				addr = ClientAddr(g)
			}
			// Citizens arrive over the first think time, not all at once.
			if !sleepCtx(ctx, time.Duration(rng.Int64N(int64(m.Think)+1))) {
				return
			}
			for ctx.Err() == nil {
				m.visit(ctx, r, rng, addr)
				sleepCtx(ctx, m.Think/2+time.Duration(rng.Int64N(int64(m.Think)+1)))
			}
		}()
	}
	wg.Wait()
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// visit is one citizen's visit: browse, join, wait, check in or not.
func (m *Mixed) visit(ctx context.Context, r *Run, rng *rand.Rand, addr string) {
	c := r.Client
	if _, err := c.Do(ctx, Req{Op: "browse", Method: http.MethodGet, Path: "/api/v1/institutions", Addr: addr}); err != nil {
		return
	}
	id := m.Institutions[rng.IntN(len(m.Institutions))]
	if _, err := c.Do(ctx, Req{Op: "institution", Method: http.MethodGet, Path: instPath(id), Addr: addr}); err != nil {
		return
	}
	resp, err := c.Do(ctx, Req{Op: "join", Method: http.MethodPost, Path: instPath(id) + "/tickets", Body: []byte("{}"), Addr: addr})
	if err != nil || resp.Status != http.StatusCreated {
		return
	}
	var t ticket
	if resp.Decode(&t) != nil {
		return
	}
	r.Rec.Issue(t.ID, t.Number)
	tpath := "/api/v1/tickets/" + t.ID
	giveUp := m.MaxWait
	if rng.Float64() < m.CancelShare {
		giveUp = time.Duration(rng.Int64N(int64(m.MaxWait)/2 + 1))
	}
	wctx, cancel := context.WithTimeout(ctx, giveUp)
	var status string
	if rng.Float64() < m.LiveShare {
		status = m.follow(wctx, r, tpath+"/live", addr)
	} else {
		status = m.poll(wctx, r, tpath, addr)
	}
	cancel()
	switch {
	case ctx.Err() != nil:
	case status == "serving":
		if rng.Float64() >= m.NoShowShare {
			_, _ = c.Do(ctx, Req{Op: "check_in", Method: http.MethodPost, Path: tpath + "/check-in", Addr: addr})
		}
	case status == "waiting" || status == "notified" || status == "":
		_, _ = c.Do(ctx, Req{Op: "cancel", Method: http.MethodPost, Path: tpath + "/cancel", Addr: addr})
	}
}

// poll reads the ticket until it is called or over, or ctx ends; it
// returns the last status seen.
func (m *Mixed) poll(ctx context.Context, r *Run, path, addr string) string {
	status := ""
	for {
		resp, err := r.Client.Do(ctx, Req{Op: "poll", Method: http.MethodGet, Path: path, Addr: addr})
		if err == nil && resp.Status == http.StatusOK {
			var t ticket
			if resp.Decode(&t) == nil {
				status = t.Status
			}
		}
		if status != "" && status != "waiting" && status != "notified" {
			return status
		}
		if !sleepCtx(ctx, m.PollInterval) {
			return status
		}
	}
}

var (
	ticketKey = []byte(`"ticket":{`)
	statusKey = []byte(`"status":"`)
)

// ticketStatus returns the status of the ticket in a ticket frame, "" for
// other frames.
func ticketStatus(data []byte) string {
	i := bytes.Index(data, ticketKey)
	if i < 0 {
		return ""
	}
	rest := data[i:]
	j := bytes.Index(rest, statusKey)
	if j < 0 {
		return ""
	}
	rest = rest[j+len(statusKey):]
	k := bytes.IndexByte(rest, '"')
	if k < 0 {
		return ""
	}
	return string(rest[:k])
}

// follow follows the ticket live until it is called or over, or ctx
// ends; it returns the last status seen.
func (m *Mixed) follow(ctx context.Context, r *Run, path, addr string) string {
	ws, err := r.Client.DialLive(ctx, "follow", path, addr)
	if err != nil {
		return ""
	}
	defer ws.CloseNow()
	status := ""
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.Rec.Count("disconnect", closeStatus(err))
			}
			return status
		}
		r.Rec.Count("live_frame", frameType(data))
		if st := ticketStatus(data); st != "" {
			status = st
			if st != "waiting" && st != "notified" {
				return st
			}
		}
	}
}

func (m *Mixed) finish(ctx context.Context, r *Run, res *Result) error {
	res.info("institutions", m.Institutions)
	joins := res.Snapshot.Op("join")
	var errs uint64
	for _, o := range res.Ops {
		for st, n := range o.Statuses {
			if strings.HasPrefix(st, "error") || st == "500" {
				errs += n
			}
		}
	}
	res.check("no errors", errs == 0, "%d requests failed with a transport error or 500", errs)
	res.check("joins", joins.Statuses["201"] > 0, "%d joins answered 201 (%s)", joins.Statuses["201"], FormatStatuses(joins.Statuses))
	if r.Opts.Verify {
		for _, id := range m.Institutions {
			// Tickets of all offices are in one list; each office's own
			// numbering is checked against its list.
			sub := &Result{}
			if err := verifyIssued(ctx, r.Client, id, nil, false, sub); err != nil {
				return err
			}
			for _, c := range sub.Checks {
				if c.Name == "numbers gap-free" {
					res.Checks = append(res.Checks, c)
				}
			}
		}
	}
	return nil
}
