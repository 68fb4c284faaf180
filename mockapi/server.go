package mockapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config wires a Server.
type Config struct {
	Institutions []InstitutionConfig
	// Seed makes the calls and the faults repeatable.
	Seed uint64
	// Clock is the simulation's clock; the wall clock's time, at speed 1,
	// when nil.
	Clock *Clock
	// Faults apply to every institution without faults of its own.
	Faults Faults
	// AdminToken, when set, is the bearer token /admin requires.
	AdminToken string
	Logger     *slog.Logger
	// PushInterval is how often institutions with a push target are looked
	// at and, when their queue moved, pushed [1s, wall clock].
	PushInterval time.Duration
	// Client sends pushes; http.DefaultClient's transport when nil.
	Client *http.Client
	// SMS are the credentials of the mock SMS gateway (sms.go).
	SMS SMSConfig
}

// Server is the simulated institutions' API.
type Server struct {
	cfg    Config
	clock  *Clock
	log    *slog.Logger
	insts  map[string]*institution
	order  []string
	faults *faultSet
	mux    *http.ServeMux

	mu     sync.Mutex
	stats  map[string]*Stats
	pushes map[string]*pushTarget
	bad    int // which malformed body comes next
	sms    *smsGateway
}

// Stats counts the requests for one institution's queue.
type Stats struct {
	Requests    int `json:"requests"`
	InFlight    int `json:"in_flight"`
	MaxInFlight int `json:"max_in_flight"`
	// ByInstance counts requests by the X-QueueLess-Instance header.
	ByInstance map[string]int `json:"by_instance"`
	// Overlaps counts requests that began while one from another instance
	// was still being answered.
	Overlaps int            `json:"overlaps"`
	inFlight map[string]int // by instance
}

// New builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Clock == nil {
		cfg.Clock = NewClock(time.Now(), 1)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PushInterval <= 0 {
		cfg.PushInterval = time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if err := cfg.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("faults: %w", err)
	}
	s := &Server{cfg: cfg, clock: cfg.Clock, log: cfg.Logger, insts: map[string]*institution{},
		faults: newFaultSet(cfg.Faults, cfg.Seed), stats: map[string]*Stats{}, pushes: map[string]*pushTarget{},
		sms: newSMSGateway(cfg.SMS, cfg.Seed, cfg.Client)}
	start := cfg.Clock.Now()
	for i, ic := range cfg.Institutions {
		if ic.ExternalID == "" || strings.ContainsAny(ic.ExternalID, "/?#") {
			return nil, fmt.Errorf("institution %d: external id %q must be non-empty, without / ? #", i, ic.ExternalID)
		}
		if _, dup := s.insts[ic.ExternalID]; dup {
			return nil, fmt.Errorf("institution %d: external id %q used twice", i, ic.ExternalID)
		}
		if ic.Arrival.Mean <= 0 || ic.Service.Mean <= 0 {
			return nil, fmt.Errorf("institution %s: arrival and service distributions need a positive mean", ic.ExternalID)
		}
		s.insts[ic.ExternalID] = newInstitution(ic, cfg.Seed, i, start)
		s.order = append(s.order, ic.ExternalID)
	}
	s.routes()
	return s, nil
}

// Clock returns the simulation's clock.
func (s *Server) Clock() *Clock { return s.clock }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	m.HandleFunc("GET /api/v1/directory", s.directory)
	m.HandleFunc("GET /api/v1/institutions/{ext}/queue", s.queue)
	m.HandleFunc("POST /api/v1/institutions/{ext}/tickets", s.issue)
	m.HandleFunc("GET /admin/faults", s.admin(s.getFaults))
	m.HandleFunc("PUT /admin/faults", s.admin(s.putFaults))
	m.HandleFunc("PUT /admin/faults/{ext}", s.admin(s.putFaults))
	m.HandleFunc("DELETE /admin/faults/{ext}", s.admin(s.deleteFaults))
	m.HandleFunc("POST /admin/clock", s.admin(s.jumpClock))
	m.HandleFunc("GET /admin/stats", s.admin(s.getStats))
	m.HandleFunc("PUT /admin/push/{ext}", s.admin(s.putPush))
	m.HandleFunc("DELETE /admin/push/{ext}", s.admin(s.deletePush))
	s.sms.routes(m, s.admin)
	s.mux = m
}

// DirectoryEntry is one institution in the directory.
type DirectoryEntry struct {
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Address    string `json:"address"`
	Counters   int    `json:"counters"`
	QueueURL   string `json:"queue_url"`
}

func (s *Server) directory(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	items := make([]DirectoryEntry, 0, len(s.order))
	for _, ext := range s.order {
		c := s.insts[ext].cfg
		items = append(items, DirectoryEntry{ExternalID: ext, Name: c.Name, Kind: c.Kind, Address: c.Address,
			Counters: max(c.Counters, 1), QueueURL: scheme + "://" + r.Host + "/api/v1/institutions/" + ext + "/queue"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

// queue answers an institution's queue, through its faults.
func (s *Server) queue(w http.ResponseWriter, r *http.Request) {
	ext := r.PathValue("ext")
	in, ok := s.insts[ext]
	if !ok {
		writeError(w, http.StatusNotFound, "no institution "+ext)
		return
	}
	done := s.begin(ext, r.Header.Get("X-QueueLess-Instance"))
	defer done()
	v := s.faults.draw(ext, s.clock.Now())
	if v.latency > 0 {
		t := time.NewTimer(v.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case v.drop:
		dropConnection(w)
		return
	case v.fail:
		writeError(w, http.StatusInternalServerError, "the queue system is having a bad day")
		return
	}
	q := in.queue(s.clock.Now())
	if v.shift != 0 {
		q.UpdatedAt = q.UpdatedAt.Add(v.shift)
		for i := range q.Counters {
			if at := q.Counters[i].CalledAt; at != nil {
				shifted := at.Add(v.shift)
				q.Counters[i].CalledAt = &shifted
			}
		}
	}
	body, _ := json.Marshal(q)
	switch {
	case v.malformed:
		s.mu.Lock()
		bad := malformed[s.bad%len(malformed)]
		s.bad++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(bad))
	case v.truncate:
		// The length promises the whole body; the connection ends half-way.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		dropConnection(w)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	}
}

// malformed are the bodies of the malformed-body fault, in turn.
var malformed = []string{
	`{"now_serving": "twelve", "last_issued": 40}`,
	`<html><body>Service Temporarily Unavailable</body></html>`,
	`{"now_serving": 12, "last_issued": 40`,
	`{"now_serving": 50, "last_issued": 40}`,
	`[]`,
	``,
}

// dropConnection ends the connection without an answer, as a system that
// is down would.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	_ = conn.Close()
}

// begin counts a request to ext from instance; done uncounts it.
func (s *Server) begin(ext, instance string) (done func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[ext]
	if st == nil {
		st = &Stats{ByInstance: map[string]int{}, inFlight: map[string]int{}}
		s.stats[ext] = st
	}
	for other, n := range st.inFlight {
		if other != instance && n > 0 {
			st.Overlaps++
			break
		}
	}
	st.Requests++
	st.InFlight++
	st.MaxInFlight = max(st.MaxInFlight, st.InFlight)
	st.ByInstance[instance]++
	st.inFlight[instance]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		st.InFlight--
		st.inFlight[instance]--
	}
}

// Stats returns the request counts of institution ext.
func (s *Server) Stats(ext string) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[ext]
	if st == nil {
		return Stats{ByInstance: map[string]int{}}
	}
	out := *st
	out.ByInstance = map[string]int{}
	for k, v := range st.ByInstance {
		out.ByInstance[k] = v
	}
	out.inFlight = nil
	return out
}

// Queue returns institution ext's queue now, as the API would without faults.
func (s *Server) Queue(ext string) (Queue, bool) {
	in, ok := s.insts[ext]
	if !ok {
		return Queue{}, false
	}
	return in.queue(s.clock.Now()), true
}

// Calls returns every call institution ext has made so far, oldest first.
func (s *Server) Calls(ext string) []Call {
	in, ok := s.insts[ext]
	if !ok {
		return nil
	}
	return in.calls(s.clock.Now())
}

// SetFaults sets the faults of institution ext, or the global ones when
// ext is empty.
func (s *Server) SetFaults(ext string, f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if ext != "" {
		if _, ok := s.insts[ext]; !ok {
			return fmt.Errorf("no institution %s", ext)
		}
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if ext == "" {
		s.faults.global = f
	} else {
		s.faults.per[ext] = f
	}
	return nil
}

func (s *Server) issue(w http.ResponseWriter, r *http.Request) {
	in, ok := s.insts[r.PathValue("ext")]
	if !ok {
		writeError(w, http.StatusNotFound, "no institution "+r.PathValue("ext"))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]int64{"number": in.issue(s.clock.Now())})
}

// admin requires the admin token, when one is set.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken != "" {
			got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.AdminToken)) != 1 {
				writeError(w, http.StatusUnauthorized, "admin token required")
				return
			}
		}
		h(w, r)
	}
}

func (s *Server) getFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.faults.view())
}

func (s *Server) putFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decode(r, &f); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.SetFaults(r.PathValue("ext"), f); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.faults.view())
}

func (s *Server) deleteFaults(w http.ResponseWriter, r *http.Request) {
	s.faults.mu.Lock()
	delete(s.faults.per, r.PathValue("ext"))
	s.faults.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) jumpClock(w http.ResponseWriter, r *http.Request) {
	var b struct {
		AdvanceSeconds float64 `json:"advance_seconds"`
	}
	if err := decode(r, &b); err != nil || b.AdvanceSeconds <= 0 || b.AdvanceSeconds > 30*24*3600 {
		writeError(w, http.StatusBadRequest, "advance_seconds must be from 0 to 2592000 (the clock only jumps forward)")
		return
	}
	s.clock.Advance(time.Duration(b.AdvanceSeconds * float64(time.Second)))
	writeJSON(w, http.StatusOK, map[string]time.Time{"now": s.clock.Now()})
}

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	out := map[string]Stats{}
	s.mu.Lock()
	keys := make([]string, 0, len(s.stats))
	for k := range s.stats {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	sort.Strings(keys)
	for _, k := range keys {
		out[k] = s.Stats(k)
	}
	writeJSON(w, http.StatusOK, out)
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// Run pushes the queues of institutions with a push target until ctx ends.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.PushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.pushAll(ctx)
	}
}
