package queue

// Estimates wired into services and tickets (API.md v1.1, "Estimates"):
// each line keeps its calls of the local day (its pace log, stored with the
// line and carried in live events), and the estimate of a line and of its
// waiting tickets is computed from that log by estimate.go, as of the
// line's last call. Evaluating it at the last call, not at every read,
// makes it a function of the stored state: the HTTP API and every live
// instance show the same figures, and a ticket's estimate changes only when
// its line calls, so joins do not send every follower a new frame. The
// replayed days of docs/ESTIMATES.md are scored this way.
//
// The institution's own estimated_wait_seconds stays v1's (the
// institution-wide call pace times its waiting count): v1 clients read it.

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// PaceCallsKept bounds a line's pace log: the last calls of its day within
// the pace's horizon (3 hours), at most this many. Older calls weigh under
// e^-3 of a fresh one once this many are kept at any realistic pace, and
// the log travels in every stored row and live event of the institution.
const PaceCallsKept = 120

// KeepPaceCalls appends c to a line's pace log of one local day and drops
// what the pace would not use: calls more than the horizon before c (the
// last EstimateMinCalls kept whatever their age) and any beyond
// PaceCallsKept. It never writes into calls' array: copies of an
// institution share it.
func KeepPaceCalls(calls []PaceCall, c PaceCall) []PaceCall {
	out := append(slices.Clip(calls), c)
	from, _ := slices.BinarySearchFunc(out, c.At.Add(-paceHorizon), func(x PaceCall, t time.Time) int { return x.At.Compare(t) })
	from = min(from, max(len(out)-EstimateMinCalls, 0))
	from = max(from, len(out)-PaceCallsKept)
	return out[from:]
}

// notePaceCall records a call from the line (a recall is not one) on the
// local day day.
func (l *Line) notePaceCall(day string, at time.Time, counter *string) {
	if l.PaceDay != day {
		l.PaceDay, l.PaceCalls = day, nil
	}
	c := PaceCall{At: at.Truncate(time.Millisecond)} // as stored
	if counter != nil {
		c.Counter = *counter
	}
	l.PaceCalls = KeepPaceCalls(l.PaceCalls, c)
}

// calendarForEstimates is the calendar the estimates carry a wait through
// (closed time, such as a lunch hour, is skipped): the institution's own
// hours in its timezone, always open when it keeps none.
func calendarForEstimates(inst *Institution) *Calendar {
	return inst.Calendar()
}

// lineWaits is a line's estimate as of its last call: derived, never
// stored, shared read-only by copies of the institution.
type lineWaits struct {
	table WaitTable
	at    time.Time
	cal   *Calendar
}

func (w *lineWaits) wait(ahead int64) WaitEstimate {
	return w.table.Wait(int(ahead)).Through(w.cal, w.at)
}

// estimateLines fills each line's estimate, as of its last call, when it
// has a pace from calls of the local day of now; else both are null.
func (inst *Institution) estimateLines(now time.Time) { inst.estimateLinesFor(now, 0) }

// estimateLinesFor is estimateLines with room in the tables for extra
// tickets more than wait now (a batch of joins asks their estimates as
// each one joins).
func (inst *Institution) estimateLinesFor(now time.Time, extra int) {
	var cal *Calendar
	today := LocalDay(inst, now)
	for i := range inst.Services {
		l := &inst.Services[i]
		l.waits, l.EstimatedWaitSeconds, l.EstimatedWaitRange = nil, nil, nil
		if l.PaceDay != today || len(l.PaceCalls) < EstimateMinCalls {
			continue
		}
		at := l.PaceCalls[len(l.PaceCalls)-1].At
		p, ok := ServicePace(l.PaceCalls, at)
		if !ok {
			continue
		}
		if cal == nil {
			cal = calendarForEstimates(inst)
		}
		l.waits = &lineWaits{table: p.Table(int(l.WaitingCount) + extra), at: at, cal: cal}
		l.EstimatedWaitSeconds, l.EstimatedWaitRange = waitFields(l.waits.wait(l.WaitingCount))
	}
}

func waitFields(w WaitEstimate) (*int64, *[2]int64) {
	r := w.Range()
	return &w.Seconds, &r
}

// ticketWait is the estimate of a waiting ticket of inst with ahead people
// ahead, from its line's pace; nil, nil while the line has none.
func ticketWait(inst *Institution, t *Ticket, ahead int64) (*int64, *[2]int64) {
	l := inst.line(t.Service)
	if l == nil || l.waits == nil {
		return nil, nil
	}
	return waitFields(l.waits.wait(ahead))
}

// paceLog is a pace log as stored and sent: [[unix milliseconds,
// "counter"], ...], compact because it travels in every live event.
type paceLog []PaceCall

func (p paceLog) MarshalJSON() ([]byte, error) {
	out := make([][2]any, len(p))
	for i, c := range p {
		out[i] = [2]any{c.At.UnixMilli(), c.Counter}
	}
	return json.Marshal(out)
}

func (p *paceLog) UnmarshalJSON(b []byte) error {
	var raw [][2]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(paceLog, len(raw))
	for i, r := range raw {
		var ms int64
		if err := json.Unmarshal(r[0], &ms); err != nil {
			return fmt.Errorf("pace log entry %d: %w", i, err)
		}
		if err := json.Unmarshal(r[1], &out[i].Counter); err != nil {
			return fmt.Errorf("pace log entry %d: %w", i, err)
		}
		out[i].At = time.UnixMilli(ms).UTC()
	}
	*p = out
	return nil
}
