package mockapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// pushTarget is where an institution posts its queue when it moves: a
// QueueLess push link.
type pushTarget struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
	last   Queue  // the last queue pushed and accepted
	sent   bool
}

// SetPush makes institution ext post its queue to url, signed with secret,
// whenever it moves; an empty url stops it.
func (s *Server) SetPush(ext, target, secret string) error {
	if _, ok := s.insts[ext]; !ok {
		return fmt.Errorf("no institution %s", ext)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if target == "" {
		delete(s.pushes, ext)
		return nil
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || secret == "" {
		return fmt.Errorf("push needs an absolute http(s) url and a secret")
	}
	s.pushes[ext] = &pushTarget{URL: target, Secret: secret}
	return nil
}

func (s *Server) putPush(w http.ResponseWriter, r *http.Request) {
	var b pushTarget
	if err := decode(r, &b); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.SetPush(r.PathValue("ext"), b.URL, b.Secret); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deletePush(w http.ResponseWriter, r *http.Request) {
	_ = s.SetPush(r.PathValue("ext"), "", "")
	w.WriteHeader(http.StatusNoContent)
}

// pushAll posts the queue of every institution with a target whose queue
// moved since its last accepted push. Outages and Down hold pushes back.
func (s *Server) pushAll(ctx context.Context) {
	s.mu.Lock()
	targets := map[string]pushTarget{}
	for ext, p := range s.pushes {
		targets[ext] = *p
	}
	s.mu.Unlock()
	for ext, p := range targets {
		now := s.clock.Now()
		if s.faults.get(ext).outage(now) {
			continue
		}
		q := s.insts[ext].queue(now)
		if p.sent && q.NowServing == p.last.NowServing && q.LastIssued == p.last.LastIssued {
			continue
		}
		issued, err := s.push(ctx, p, q)
		if err != nil {
			s.log.Warn("push", "institution", ext, "error", err.Error())
			continue
		}
		// Numbers QueueLess issued to phones are not the dispenser's to give.
		s.insts[ext].reserve(s.clock.Now(), issued)
		s.mu.Lock()
		if cur, ok := s.pushes[ext]; ok && cur.URL == p.URL {
			cur.last, cur.sent = q, true
		}
		s.mu.Unlock()
	}
}

// push posts q, signed, and returns the last number QueueLess has issued.
func (s *Server) push(ctx context.Context, p pushTarget, q Queue) (int64, error) {
	body, _ := json.Marshal(q)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-QueueLess-Signature", Sign(p.Secret, body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("answered %d: %s", resp.StatusCode, data)
	}
	var out struct {
		Institution struct {
			LastIssued int64 `json:"last_issued"`
		} `json:"institution"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return 0, fmt.Errorf("answer: %w", err)
	}
	return out.Institution.LastIssued, nil
}

// Sign returns "sha256=" and the hex HMAC-SHA256 of body under secret: the
// X-QueueLess-Signature of a push.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
