package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Join is the join scenario: a hot institution under many joiners.
//
// Closed loop (Rate 0): Clients joiners each join again as soon as they
// have an answer; throughput is what the server sustains and latency is
// queueing time (Little: latency = Clients / throughput). Open loop (Rate >
// 0): joins arrive at Rate a second, answered or not, up to Total; this is
// the flash crowd, and arrivals that would exceed MaxInFlight are counted
// as "dropped" by the driver rather than delayed. Joins go over the
// driver's own lean HTTP/1.1 connections (rawhttp.go), so that the driver
// takes as little as it can of the CPUs it may share with the server.
type Join struct {
	Institution int64   `json:"institution"` // 0: create one
	Clients     int     `json:"clients"`
	Rate        float64 `json:"rate"`
	Total       int     `json:"total"` // 0: until the duration ends
	MaxInFlight int     `json:"max_in_flight"`
	// PhoneShare is the share of joins that give a (unique) phone number.
	PhoneShare float64 `json:"phone_share"`
	// Services spreads joins over that many services (A, B, ...), which a
	// created institution gets; 0 or 1: joins name no service (v1).
	Services int `json:"services"`
	// PriorityShare is the share of joins that ask for the priority lane.
	PriorityShare float64 `json:"priority_share"`
	// Allowed lists the statuses a join may get; any other fails the run
	// (the flash crowd allows 201, 429 and 503). Empty: no such check.
	Allowed []int `json:"allowed,omitempty"`

	// PhoneBase makes this run's phone numbers differ from the last's.
	PhoneBase int64 `json:"phone_base"`

	created bool // by setup: every ticket of the institution is this run's
}

// Name implements Scenario.
func (j *Join) Name() string { return "join" }

func (j *Join) setup(ctx context.Context, r *Run) error {
	if j.Rate <= 0 && j.Clients <= 0 {
		j.Clients = 100
	}
	if j.MaxInFlight <= 0 {
		j.MaxInFlight = 10000
	}
	j.PhoneBase = time.Now().UnixNano() / 1000 % 1_000_000_000
	if j.Institution == 0 {
		id, err := createInstitution(ctx, r.Client, "Load test: joins "+time.Now().UTC().Format(time.RFC3339))
		if err != nil {
			return err
		}
		j.Institution, j.created = id, true
		if j.Services > 1 {
			if err := putServices(ctx, r.Client, id, j.Services); err != nil {
				return err
			}
		}
	}
	return nil
}

// lineJoinBody is join n's body naming its service (of services, when
// more than one) and, for a share of joins spread over the run, the
// priority lane.
func lineJoinBody(n, services int, priorityShare float64) []byte {
	body := []byte("{")
	if services > 1 {
		body = fmt.Appendf(body, `"service":%q,`, serviceCode(n%services))
	}
	if priorityShare > 0 && float64((n*7919)%1000) < priorityShare*1000 {
		body = append(body, `"priority":"senior",`...)
	}
	if len(body) == 1 {
		return []byte("{}")
	}
	body[len(body)-1] = '}'
	return body
}

// serviceCode is the code of the i-th service a load test makes: A, B, ...
func serviceCode(i int) string { return string(rune('A' + i%26)) }

// putServices gives institution id n services, A upward.
func putServices(ctx context.Context, c *Client, id int64, n int) error {
	specs := make([]map[string]any, n)
	for i := range specs {
		specs[i] = map[string]any{"code": serviceCode(i), "name": "Load test " + serviceCode(i)}
	}
	resp, err := c.Do(ctx, Req{Method: http.MethodPut, Path: instPath(id) + "/services", Admin: true, Body: map[string]any{"services": specs}})
	if err != nil {
		return err
	}
	if resp.Status != http.StatusOK {
		return fmt.Errorf("put services: %d %.300s", resp.Status, resp.Body)
	}
	return nil
}

// needs makes an open loop's duration cover its schedule.
func (j *Join) needs() time.Duration {
	if j.Rate > 0 && j.Total > 0 {
		return time.Duration(float64(j.Total)/j.Rate*float64(time.Second)) + 5*time.Second
	}
	return 0
}

func (j *Join) prepare(context.Context, *Run, Shard) error { return nil }
func (j *Join) lead(context.Context, *Run) error           { return nil }
func (j *Join) leadEnds() bool                             { return false }

func (j *Join) load(ctx context.Context, r *Run, sh Shard) error {
	ctx, cancel := context.WithTimeout(ctx, r.Opts.Duration)
	defer cancel()
	total := -1
	if j.Total > 0 {
		total = sh.Part(j.Total)
	}
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(sh.Index) + "-"
	pool, err := newRawPool(r.Client)
	if err != nil {
		return err
	}
	defer pool.close()
	if j.Rate > 0 {
		return j.openLoop(ctx, r, pool, sh, total, prefix)
	}
	var sent atomic.Int64
	var wg sync.WaitGroup
	clients := sh.Part(j.Clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := sh.Global(i)
			for ctx.Err() == nil {
				n := int(sent.Add(1) - 1)
				if total >= 0 && n >= total {
					return
				}
				// A join in flight when the run ends is seen through: the
				// server may issue its ticket, and the count must know.
				j.joinOnce(context.WithoutCancel(ctx), r, pool, j.addr(r, g, sh.Global(n)), prefix+strconv.Itoa(n), sh.Global(n))
			}
		}()
	}
	wg.Wait()
	return nil
}

// openLoop starts joins on a fixed schedule: the n-th at start + n/rate.
func (j *Join) openLoop(ctx context.Context, r *Run, pool *rawPool, sh Shard, total int, prefix string) error {
	rate := j.Rate / float64(sh.Count)
	limit := max(1, j.MaxInFlight/sh.Count)
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	for n := 0; total < 0 || n < total; {
		due := int(time.Since(start).Seconds() * rate)
		for ; n <= due && (total < 0 || n < total); n++ {
			if inFlight.Load() >= int64(limit) {
				r.Rec.Count("join", "dropped")
				continue
			}
			inFlight.Add(1)
			wg.Add(1)
			go func(n int) {
				defer wg.Done()
				defer inFlight.Add(-1)
				g := sh.Global(n)
				// Arrivals of one address are spread over the run, as a crowd's are.
				j.joinOnce(context.WithoutCancel(ctx), r, pool, j.addr(r, g, g), prefix+strconv.Itoa(n), g)
			}(n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// addr is the client address of joiner (closed loop) or arrival (open).
func (j *Join) addr(r *Run, who, n int) string {
	if r.Opts.Addresses <= 0 {
		return ""
	}
	if j.Rate > 0 {
		return ClientAddr(n % r.Opts.Addresses)
	}
	return ClientAddr(who % r.Opts.Addresses)
}

func (j *Join) joinOnce(ctx context.Context, r *Run, pool *rawPool, addr, key string, n int) {
	body := []byte("{")
	if j.PhoneShare > 0 && float64(n%1000) < j.PhoneShare*1000 {
		// 09 and nine digits: unique within a run.
		body = fmt.Appendf(body, `"phone":"09%09d",`, (j.PhoneBase+int64(n))%1_000_000_000)
	}
	if j.Services > 1 {
		body = fmt.Appendf(body, `"service":%q,`, serviceCode(n%j.Services))
	}
	// Every k-th join, spread apart from the phones' share.
	if j.PriorityShare > 0 && float64((n*7919)%1000) < j.PriorityShare*1000 {
		body = append(body, `"priority":"senior",`...)
	}
	body[len(body)-1] = '}'
	if len(body) == 1 {
		body = []byte("{}")
	}
	// Every join carries a key of its own, as a real client's must: an
	// answer the server could not confirm ("retry with the same
	// Idempotency-Key") can then be settled without a second number.
	req := pool.rawRequest(instPath(j.Institution)+"/tickets", body, "X-Forwarded-For", addr, "Idempotency-Key", "lg-"+key)
	status, resp, err := pool.do(ctx, "join", req, r.Rec.keepIDs)
	if err != nil || status != http.StatusCreated || !r.Rec.keepIDs {
		return
	}
	var t ticket
	if json.Unmarshal(resp, &t) == nil {
		r.Rec.Issue(t.ID, t.Number)
	}
}

func (j *Join) finish(ctx context.Context, r *Run, res *Result) error {
	res.info("institution", j.Institution)
	joins := res.Snapshot.Op("join")
	if len(j.Allowed) > 0 {
		var bad []string
		for st, n := range joins.Statuses {
			code, err := strconv.Atoi(st)
			if err != nil || !slices.Contains(j.Allowed, code) {
				bad = append(bad, fmt.Sprintf("%s:%d", st, n))
			}
		}
		allowed := make([]string, len(j.Allowed))
		for i, a := range j.Allowed {
			allowed[i] = strconv.Itoa(a)
		}
		res.check("statuses", len(bad) == 0, "allowed %s; got %s", strings.Join(allowed, ", "), FormatStatuses(joins.Statuses))
	}
	if j.Total > 0 {
		res.check("all sent", joins.Count == uint64(j.Total), "%d of %d joins accounted for (answered, failed or dropped)", joins.Count, j.Total)
	}
	if r.Opts.Verify {
		return verifyIssued(ctx, r.Client, j.Institution, res.Snapshot.Issued, j.created, res)
	}
	return nil
}
