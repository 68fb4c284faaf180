package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// institution is what the driver reads of an Institution.
type institution struct {
	ID         int64  `json:"id"`
	Status     string `json:"status"`
	LastIssued int64  `json:"last_issued"`
	NowServing int64  `json:"now_serving"`
	Waiting    int64  `json:"waiting_count"`
	Version    int64  `json:"version"`
}

// ticket is what the driver reads of a Ticket.
type ticket struct {
	ID     string `json:"id"`
	Number int64  `json:"number"`
	Status string `json:"status"`
}

// createInstitution creates an open institution with the admin token.
func createInstitution(ctx context.Context, c *Client, name string) (int64, error) {
	if c.admin == "" {
		return 0, fmt.Errorf("creating an institution needs the admin token (-admin-token or ADMIN_TOKEN), or pass an existing one")
	}
	resp, err := c.Do(ctx, Req{Method: http.MethodPost, Path: "/api/v1/institutions", Admin: true,
		Body: map[string]any{"name": name, "kind": "other", "address": "load test", "status": "open"}})
	if err != nil {
		return 0, err
	}
	if resp.Status != http.StatusCreated {
		return 0, fmt.Errorf("create institution: %d %.300s", resp.Status, resp.Body)
	}
	var inst institution
	if err := resp.Decode(&inst); err != nil {
		return 0, err
	}
	return inst.ID, nil
}

// getInstitution reads an institution.
func getInstitution(ctx context.Context, c *Client, id int64) (institution, error) {
	var inst institution
	resp, err := c.Do(ctx, Req{Method: http.MethodGet, Path: instPath(id)})
	if err != nil {
		return inst, err
	}
	if resp.Status != http.StatusOK {
		return inst, fmt.Errorf("institution %d: %d %.300s", id, resp.Status, resp.Body)
	}
	return inst, resp.Decode(&inst)
}

func instPath(id int64) string { return "/api/v1/institutions/" + strconv.FormatInt(id, 10) }

// prejoin issues n tickets in institution id, each from its own client
// address, 64 at a time, retrying throttled and shed joins: the fan-out
// scenario needs people to call.
func prejoin(ctx context.Context, c *Client, id int64, n, addrBase int) error {
	return prejoinBodies(ctx, c, id, n, addrBase, func(int) []byte { return []byte("{}") })
}

// prejoinBodies is prejoin with join i's body from body(i): a service, the
// priority lane.
func prejoinBodies(ctx context.Context, c *Client, id int64, n, addrBase int, body func(i int) []byte) error {
	var next, failed atomic.Int64
	var lastErr atomic.Value
	var wg sync.WaitGroup
	for range min(64, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := joinRetrying(ctx, c, id, ClientAddr(addrBase+i), body(i)); err != nil {
					failed.Add(1)
					lastErr.Store(err)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d joins failed; last: %v", f, n, lastErr.Load())
	}
	return ctx.Err()
}

func joinRetrying(ctx context.Context, c *Client, id int64, addr string, body []byte) error {
	var last string
	for attempt := range 10 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		resp, err := c.Do(ctx, Req{Op: "prejoin", Method: http.MethodPost, Path: instPath(id) + "/tickets", Body: body, Addr: addr})
		if err != nil {
			last = err.Error()
			continue
		}
		switch resp.Status {
		case http.StatusCreated:
			return nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			last = strconv.Itoa(resp.Status)
			continue
		}
		return fmt.Errorf("join: %d %.300s", resp.Status, resp.Body)
	}
	return fmt.Errorf("join: gave up after 10 attempts: %s", last)
}

// allTickets lists every ticket of institution id through the staff API.
func allTickets(ctx context.Context, c *Client, id int64) ([]ticket, error) {
	var out []ticket
	after := int64(0)
	for {
		path := fmt.Sprintf("%s/tickets?status=%s&limit=500&after=%d", instPath(id),
			strings.Join([]string{"waiting", "notified", "serving", "served", "expired", "cancelled"}, ","), after)
		resp, err := c.Do(ctx, Req{Method: http.MethodGet, Path: path, Admin: true})
		if err != nil {
			return nil, err
		}
		if resp.Status != http.StatusOK {
			return nil, fmt.Errorf("list tickets: %d %.300s", resp.Status, resp.Body)
		}
		var page struct {
			Items     []ticket `json:"items"`
			NextAfter *int64   `json:"next_after"`
		}
		if err := resp.Decode(&page); err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.NextAfter == nil {
			return out, nil
		}
		after = *page.NextAfter
	}
}

// verifyIssued checks the tickets issued with 201 against the server's
// list: each is there with its number, and the institution's numbers run
// from 1 to last_issued without a gap or a repeat.
// With all, every ticket of the institution must be one of issued.
func verifyIssued(ctx context.Context, c *Client, id int64, issued []Issued, all bool, res *Result) error {
	list, err := allTickets(ctx, c, id)
	if err != nil {
		return err
	}
	inst, err := getInstitution(ctx, c, id)
	if err != nil {
		return err
	}
	byID := make(map[string]int64, len(list))
	seen := make(map[int64]bool, len(list))
	dups := 0
	for _, t := range list {
		byID[t.ID] = t.Number
		if seen[t.Number] {
			dups++
		}
		seen[t.Number] = true
	}
	gaps := 0
	for n := int64(1); n <= inst.LastIssued; n++ {
		if !seen[n] {
			gaps++
		}
	}
	missing, wrong := 0, 0
	for _, t := range issued {
		n, ok := byID[t.ID]
		switch {
		case !ok:
			missing++
		case n != t.Number:
			wrong++
		}
	}
	res.check("issued tickets stored", missing == 0 && wrong == 0,
		"%d tickets answered 201; %d not found on the server, %d with another number", len(issued), missing, wrong)
	if all {
		res.check("no ticket unaccounted for", len(list) == len(issued),
			"the server holds %d tickets of institution %d; %d joins were answered 201", len(list), id, len(issued))
	}
	res.check("numbers gap-free", gaps == 0 && dups == 0 && int64(len(list)) == inst.LastIssued,
		"institution %d: %d tickets, last_issued %d, %d gaps, %d repeats", id, len(list), inst.LastIssued, gaps, dups)
	return nil
}
