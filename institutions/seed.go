package institutions

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/queueless/queueless/queue"
)

// SeedOptions says what Seed makes.
type SeedOptions struct {
	// Tickets is how many tickets should wait at each institution that is
	// not linked; Seed joins the missing ones (no phone). Linked
	// institutions get theirs from the outside system.
	Tickets int
	// MockAPIURL, when set, is a mockapi (or anything serving its
	// directory) whose institutions are imported and linked in poll mode.
	MockAPIURL string
	// PollInterval is the poll interval of the links made [2s].
	PollInterval time.Duration
	// Client reads the directory; a client with a 10 s timeout when nil.
	Client *http.Client
}

// SeedReport says what Seed made.
type SeedReport struct {
	Created int `json:"created"`
	Linked  int `json:"linked"`
	Tickets int `json:"tickets"`
}

// Seed makes the demo institutions that are missing (by name), imports and
// links the institutions of opt.MockAPIURL, and tops up waiting tickets.
// Running it again makes nothing new: it is safe in a start-up script.
func Seed(ctx context.Context, q *queue.Service, sync *Syncer, opt SeedOptions) (SeedReport, error) {
	var rep SeedReport
	if opt.PollInterval <= 0 {
		opt.PollInterval = 2 * time.Second
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 10 * time.Second}
	}
	list, err := q.Institutions(ctx)
	if err != nil {
		return rep, fmt.Errorf("list institutions: %w", err)
	}
	byName := map[string]queue.Institution{}
	for _, inst := range list {
		byName[inst.Name] = inst
	}
	ensure := func(f queue.Fields) (queue.Institution, error) {
		if inst, ok := byName[f.Name]; ok {
			return inst, nil
		}
		inst, err := createDemo(ctx, q, f) // a demo office gets its services, any other just A
		if err != nil {
			return inst, fmt.Errorf("create %s: %w", f.Name, err)
		}
		byName[f.Name] = inst
		rep.Created++
		return inst, nil
	}
	for _, f := range Demo() {
		if _, err := ensure(f); err != nil {
			return rep, err
		}
	}
	linked := map[int64]bool{}
	if opt.MockAPIURL != "" {
		entries, err := readDirectory(ctx, opt.Client, opt.MockAPIURL)
		if err != nil {
			return rep, err
		}
		for _, e := range entries {
			kind := queue.Kind(e.Kind)
			if p := (queue.Patch{Kind: &kind}); p.Validate() != nil {
				kind = "other"
			}
			inst, err := ensure(queue.Fields{Name: e.Name, Kind: kind, Address: e.Address, Status: queue.StatusOpen})
			if err != nil {
				return rep, err
			}
			linked[inst.ID] = true
			cur, err := sync.links.Link(ctx, inst.ID)
			if err == nil && cur.Mode == queue.LinkPoll && cur.URL == e.QueueURL {
				continue
			}
			if err != nil && !queue.IsNotFound(err) {
				return rep, err
			}
			spec := LinkSpec{Mode: queue.LinkPoll, URL: e.QueueURL, PollInterval: opt.PollInterval}
			if _, err := sync.PutLink(ctx, inst.ID, spec, queue.Meta{Actor: queue.ActorSystem}); err != nil {
				return rep, fmt.Errorf("link %s to %s: %w", e.Name, e.QueueURL, err)
			}
			rep.Linked++
		}
	}
	if opt.Tickets <= 0 {
		return rep, nil
	}
	links, err := sync.links.Links(ctx)
	if err != nil {
		return rep, err
	}
	for _, l := range links {
		linked[l.InstitutionID] = true
	}
	for _, inst := range byName {
		if linked[inst.ID] || inst.Status != queue.StatusOpen {
			continue
		}
		n, err := topUp(ctx, q, inst, opt.Tickets)
		rep.Tickets += n
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// topUp joins tickets at inst until want wait, in batches of one
// transaction each.
func topUp(ctx context.Context, q *queue.Service, inst queue.Institution, want int) (int, error) {
	cur, err := q.Institution(ctx, inst.ID)
	if err != nil {
		return 0, err
	}
	missing := want - int(cur.WaitingCount)
	made := 0
	for missing > 0 {
		n := min(missing, 256)
		reqs, metas := make([]queue.JoinRequest, n), make([]queue.Meta, n)
		for i := range reqs {
			_ = reqs[i].Validate() // fills in the default threshold
			metas[i] = queue.Meta{Actor: queue.ActorSystem, RequestID: "seed"}
		}
		for _, r := range q.JoinBatch(ctx, inst.ID, reqs, metas) {
			if r.Err != nil {
				return made, fmt.Errorf("join at %s: %w", inst.Name, r.Err)
			}
		}
		made += n
		missing -= n
	}
	return made, nil
}

// DirectoryEntry is one institution of a mockapi directory.
type DirectoryEntry struct {
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Address    string `json:"address"`
	QueueURL   string `json:"queue_url"`
}

// readDirectory reads GET <base>/api/v1/directory.
func readDirectory(ctx context.Context, client *http.Client, base string) ([]DirectoryEntry, error) {
	u := strings.TrimRight(base, "/") + "/api/v1/directory"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", u, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read directory %s: answered %d", u, resp.StatusCode)
	}
	var d struct {
		Items []DirectoryEntry `json:"items"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("read directory %s: %w", u, err)
	}
	for _, e := range d.Items {
		if e.Name == "" || e.QueueURL == "" {
			return nil, fmt.Errorf("read directory %s: an entry lacks a name or queue_url", u)
		}
	}
	return d.Items, nil
}
