package queue

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Line is one of an institution's services (lines): the contract's Service
// object. It is called Line in Go because Service is the type that carries
// out the queue's operations. Lines live in their institution's row and
// change under its lock, with its version.
type Line struct {
	ID       int64  `json:"id"`
	Code     string `json:"code"`
	Name     string `json:"name"`
	Status   Status `json:"status"`
	Position int    `json:"position"`
	// WaitingCount counts the line's waiting and notified tickets.
	WaitingCount         int64     `json:"waiting_count"`
	NowServingLabel      *string   `json:"now_serving_label"`
	EstimatedWaitSeconds *int64    `json:"estimated_wait_seconds"`
	EstimatedWaitRange   *[2]int64 `json:"estimated_wait_range"`
	DailyQuota           *int64    `json:"daily_quota"`

	lineState `json:"-"`
}

// lineState is what a line keeps besides its public fields: it is stored
// with the line and travels in live events, but no client sees it.
type lineState struct {
	// WaitingPriority counts the priority tickets among WaitingCount.
	WaitingPriority int64
	// Streak counts the line's priority calls since its last regular call
	// (the priority run, see order.go).
	Streak int
	// LabelDay is the local day (YYYY-MM-DD) of LabelSeq, the number of the
	// line's last label; CalledDay the local day of NowServingLabel.
	LabelDay  string
	LabelSeq  int64
	CalledDay string
	// PaceCalls are the line's calls of the local day PaceDay, oldest
	// first, as the estimates need them (estimate_lines.go); waits is the
	// estimate they give, derived by Institution.estimate.
	PaceDay   string
	PaceCalls []PaceCall
	waits     *lineWaits
}

// LineRecord is a Line as stored and sent between instances: its public
// fields and its state.
type LineRecord struct {
	ID              int64   `json:"id"`
	Code            string  `json:"code"`
	Name            string  `json:"name"`
	Status          Status  `json:"status"`
	Position        int     `json:"position"`
	WaitingCount    int64   `json:"waiting_count"`
	WaitingPriority int64   `json:"waiting_priority"`
	NowServingLabel *string `json:"now_serving_label"`
	DailyQuota      *int64  `json:"daily_quota"`
	Streak          int     `json:"streak"`
	LabelDay        string  `json:"label_day"`
	LabelSeq        int64   `json:"label_seq"`
	CalledDay       string  `json:"called_day"`
	PaceDay         string  `json:"pace_day,omitempty"`
	PaceCalls       paceLog `json:"pace_calls,omitempty"`
}

// LineRecords returns lines as stored, state included.
func LineRecords(lines []Line) []LineRecord {
	out := make([]LineRecord, len(lines))
	for i, l := range lines {
		out[i] = LineRecord{ID: l.ID, Code: l.Code, Name: l.Name, Status: l.Status, Position: l.Position,
			WaitingCount: l.WaitingCount, WaitingPriority: l.WaitingPriority, NowServingLabel: l.NowServingLabel,
			DailyQuota: l.DailyQuota, Streak: l.Streak, LabelDay: l.LabelDay, LabelSeq: l.LabelSeq, CalledDay: l.CalledDay,
			PaceDay: l.PaceDay, PaceCalls: paceLog(l.PaceCalls)}
	}
	return out
}

// LinesOf turns stored records back into lines.
func LinesOf(recs []LineRecord) []Line {
	out := make([]Line, len(recs))
	for i, r := range recs {
		out[i] = Line{ID: r.ID, Code: r.Code, Name: r.Name, Status: r.Status, Position: r.Position,
			WaitingCount: r.WaitingCount, NowServingLabel: r.NowServingLabel, DailyQuota: r.DailyQuota,
			lineState: lineState{WaitingPriority: r.WaitingPriority, Streak: r.Streak, LabelDay: r.LabelDay,
				LabelSeq: r.LabelSeq, CalledDay: r.CalledDay, PaceDay: r.PaceDay, PaceCalls: []PaceCall(r.PaceCalls)}}
	}
	return out
}

// Counter is a named counter and the services (line codes) it calls from.
type Counter struct {
	Name     string   `json:"name"`
	Services []string `json:"services"`
}

// Priority is a ticket's priority category; nil is a regular ticket.
type Priority string

// Priority categories.
const (
	PrioritySenior   Priority = "senior"
	PriorityPWD      Priority = "pwd"
	PriorityPregnant Priority = "pregnant"
	PriorityOther    Priority = "other"
)

// ParsePriority checks s is a priority category.
func ParsePriority(s string) (Priority, error) {
	switch p := Priority(s); p {
	case PrioritySenior, PriorityPWD, PriorityPregnant, PriorityOther:
		return p, nil
	}
	return "", Errorf(CodeInvalid, "priority must be null or one of senior, pwd, pregnant, other")
}

// Ticket sources.
const (
	SourcePhone = "phone"
	SourceStaff = "staff"
	SourceSync  = "sync"
)

// Priority run bounds.
const (
	MaxPriorityRun     = 10
	DefaultPriorityRun = 2
)

// DefaultLineCode and DefaultLineName name the line every institution
// starts with.
const (
	DefaultLineCode = "A"
	DefaultLineName = "General"
)

var codePattern = regexp.MustCompile(`^[A-Z]{1,3}$`)

// defaultLines is the one line of an institution created without any.
func defaultLines() []Line {
	return []Line{{ID: 1, Code: DefaultLineCode, Name: DefaultLineName, Status: StatusOpen, Position: 1}}
}

// line returns the institution's line with code, or nil.
func (inst *Institution) line(code string) *Line {
	for i := range inst.Services {
		if inst.Services[i].Code == code {
			return &inst.Services[i]
		}
	}
	return nil
}

// defaultLine is the line a join without a service goes to: the first open
// one, or the first one when none is open (the join is then refused).
func (inst *Institution) defaultLine() *Line {
	for i := range inst.Services {
		if inst.Services[i].Status == StatusOpen {
			return &inst.Services[i]
		}
	}
	if len(inst.Services) > 0 {
		return &inst.Services[0]
	}
	return nil
}

// ensureLines gives an institution stored without lines (made before
// services existed, or by a store test) its default line.
func (inst *Institution) ensureLines() {
	if len(inst.Services) == 0 {
		inst.Services = defaultLines()
		inst.Services[0].WaitingCount = inst.WaitingCount
	}
	if inst.Counters == nil {
		inst.Counters = []Counter{}
	}
}

// LocalDay is the institution's local day at t, as YYYY-MM-DD: labels and
// daily quotas restart with it. It is Calendar.LocalDate in the
// institution's time zone (day.go), the one definition of the local day.
func LocalDay(inst *Institution, t time.Time) string {
	return inst.localCalendar().LocalDate(t).String()
}

// DayBounds is the local day date (YYYY-MM-DD) of inst as the instants
// [from, to): the same days LocalDay names (23, 24 or 25 hours long).
func DayBounds(inst *Institution, date string) (from, to time.Time, err error) {
	d, err := ParseDate(date)
	if err != nil {
		return time.Time{}, time.Time{}, Errorf(CodeInvalid, "date must be a day as YYYY-MM-DD")
	}
	iv := inst.localCalendar().DayBounds(d)
	return iv.Start, iv.End, nil
}

// nextLabel issues the line's next label of the local day of now.
func (l *Line) nextLabel(day string) string {
	if l.LabelDay != day {
		l.LabelDay, l.LabelSeq = day, 0
		if l.CalledDay != day {
			l.NowServingLabel = nil // nothing called yet today
		}
	}
	l.LabelSeq++
	return FormatLabel(l.Code, l.LabelSeq)
}

// FormatLabel writes a label: the line's code and its daily number, three
// digits at least ("A-023").
func FormatLabel(code string, n int64) string { return fmt.Sprintf("%s-%03d", code, n) }

// issuedToday is how many labels the line issued on day.
func (l *Line) issuedToday(day string) int64 {
	if l.LabelDay != day {
		return 0
	}
	return l.LabelSeq
}

// LineSpec is one service of a PUT services body.
type LineSpec struct {
	Code       string
	Name       string
	Status     Status // empty: open
	DailyQuota *int64
}

// validateLineSpecs checks a whole list of services, in display order.
func validateLineSpecs(specs []LineSpec) error {
	if len(specs) == 0 {
		return Errorf(CodeInvalid, "services must list at least one service")
	}
	if len(specs) > 26 {
		return Errorf(CodeInvalid, "services must list at most 26 services")
	}
	seen := map[string]bool{}
	for i := range specs {
		sp := &specs[i]
		if !codePattern.MatchString(sp.Code) {
			return Errorf(CodeInvalid, "services[%d].code must be 1 to 3 capital letters", i)
		}
		if seen[sp.Code] {
			return Errorf(CodeInvalid, "services[%d].code %s is listed twice", i, sp.Code)
		}
		seen[sp.Code] = true
		sp.Name = strings.TrimSpace(sp.Name)
		if err := checkText(fmt.Sprintf("services[%d].name", i), sp.Name, 1, 100); err != nil {
			return err
		}
		if sp.Status == "" {
			sp.Status = StatusOpen
		}
		if err := validStatus(fmt.Sprintf("services[%d].status", i), sp.Status); err != nil {
			return err
		}
		if err := validQuota(fmt.Sprintf("services[%d].daily_quota", i), sp.DailyQuota); err != nil {
			return err
		}
	}
	return nil
}

func validStatus(field string, s Status) error {
	switch s {
	case StatusOpen, StatusPaused, StatusClosed:
		return nil
	}
	return Errorf(CodeInvalid, "%s must be one of open, paused, closed", field)
}

func validQuota(field string, q *int64) error {
	if q != nil && (*q < 1 || *q > 100_000) {
		return Errorf(CodeInvalid, "%s must be null or an integer from 1 to 100000", field)
	}
	return nil
}

// validateCounters checks counters against the institution's lines.
func validateCounters(counters []Counter, lines []Line) error {
	if len(counters) > 200 {
		return Errorf(CodeInvalid, "counters must list at most 200 counters")
	}
	names := map[string]bool{}
	for i := range counters {
		c := &counters[i]
		field := fmt.Sprintf("counters[%d].name", i)
		if err := checkText(field, c.Name, 1, 16); err != nil {
			return err
		}
		if strings.TrimSpace(c.Name) == "" {
			return Errorf(CodeInvalid, "%s must not be blank", field)
		}
		if names[c.Name] {
			return Errorf(CodeInvalid, "%s: counter %q is listed twice", field, c.Name)
		}
		names[c.Name] = true
		if len(c.Services) == 0 {
			return Errorf(CodeInvalid, "counters[%d].services must list at least one service code", i)
		}
		for _, code := range c.Services {
			if !slices.ContainsFunc(lines, func(l Line) bool { return l.Code == code }) {
				return Errorf(CodeInvalid, "counters[%d].services: unknown service code %q", i, code)
			}
		}
		c.Services = distinct(slices.Clone(c.Services))
	}
	return nil
}

// counterLines returns the line codes counter calls from: its configured
// services, or nil (every line) for a counter not configured.
func (inst *Institution) counterLines(counter *string) []string {
	if counter == nil {
		return nil
	}
	for _, c := range inst.Counters {
		if c.Name == *counter {
			return c.Services
		}
	}
	return nil
}
