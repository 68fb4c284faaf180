package queue

import (
	"strings"

	"github.com/queueless/queueless/alerts"
	"time"
	"unicode/utf8"
)

// Status is an institution's status.
type Status string

// Institution statuses.
const (
	StatusOpen   Status = "open"
	StatusPaused Status = "paused"
	StatusClosed Status = "closed"
)

// Kind is an institution's kind.
type Kind string

// Institution kinds.
var kinds = map[Kind]bool{"government": true, "bank": true, "utility": true, "health": true, "other": true}

// recentCallsKept is how many calls an institution shows.
const recentCallsKept = 5

// Institution is an institution with its queue state.
type Institution struct {
	ID                   int64     `json:"id"`
	Name                 string    `json:"name"`
	Kind                 Kind      `json:"kind"`
	Address              string    `json:"address"`
	Status               Status    `json:"status"`
	NowServing           int64     `json:"now_serving"`
	LastIssued           int64     `json:"last_issued"`
	WaitingCount         int64     `json:"waiting_count"`
	Capacity             *int64    `json:"capacity"`
	RecentCalls          []Call    `json:"recent_calls"`
	EstimatedWaitSeconds *int64    `json:"estimated_wait_seconds"`
	Services             []Line    `json:"services"`
	Counters             []Counter `json:"counters"`
	// PriorityRun is how many priority tickets a line calls in a row
	// before a regular one; 0: no priority lane (see order.go).
	PriorityRun int `json:"priority_run"`
	// Settings are the office-day settings (missed turns so far); their
	// fields are fields of the Institution object.
	Settings
	// Day is what the day job keeps (day.go); never shown.
	Day DayState `json:"-"`
	// Thresholds are the alert thresholds (alert_thresholds.go).
	alerts.Thresholds
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`

	// CallInterval is the moving average of the time between calls (0:
	// unknown); LastCallAt is when the last call happened.
	CallInterval time.Duration `json:"-"`
	LastCallAt   *time.Time    `json:"-"`
	CreatedAt    time.Time     `json:"-"`
}

// Call is one number called at a counter.
type Call struct {
	Number int64 `json:"number"`
	// Label and Service name the ticket called as boards show it (an
	// extension: the contract's recent_calls has number, counter and
	// called_at); empty for calls stored before they were kept.
	Label    string    `json:"label"`
	Service  string    `json:"service"`
	Counter  *string   `json:"counter"`
	CalledAt time.Time `json:"called_at"`
}

// CallRecord is one ticket called, as the board hears of it: every call
// (in order, recalls and particular calls included) is one.
type CallRecord struct {
	Number   int64     `json:"number"`
	Label    string    `json:"label"`
	Service  string    `json:"service"`
	Counter  *string   `json:"counter"`
	CalledAt time.Time `json:"called_at"`
	// Reason is in_order, priority, recall, or the staff's words for a
	// particular call.
	Reason string `json:"reason"`
	// EventID is the id of the call's audit event (ticket.called or
	// ticket.recalled): calls are read back from the audit trail by it.
	EventID int64 `json:"-"`
}

// Call reasons.
const (
	ReasonInOrder  = "in_order"
	ReasonPriority = "priority"
	ReasonRecall   = "recall"
)

// Fields are the writable fields of an institution.
type Fields struct {
	Name     string
	Kind     Kind
	Address  string
	Status   Status
	Capacity *int64
	// PriorityRun is nil for the default.
	PriorityRun *int
	// Settings set the office-day settings; nil fields take the defaults.
	Settings SettingsPatch
	// Thresholds set the alert thresholds; nil fields take the defaults.
	Thresholds ThresholdsPatch
}

// Patch is a change of some writable fields; a nil field is left alone.
// SetCapacity with a nil Capacity removes the limit.
type Patch struct {
	Name        *string
	Kind        *Kind
	Address     *string
	Status      *Status
	SetCapacity bool
	Capacity    *int64
	PriorityRun *int
	Settings    SettingsPatch
	Thresholds  ThresholdsPatch
}

// OnlyStatus reports whether the patch touches nothing but the status.
func (p Patch) OnlyStatus() bool {
	return p.Name == nil && p.Kind == nil && p.Address == nil && !p.SetCapacity && p.PriorityRun == nil && p.Settings.empty() && p.Thresholds.empty()
}

// Validate checks the fields of a new institution.
func (f *Fields) Validate() error {
	if f.Status == "" {
		f.Status = StatusClosed
	}
	if f.PriorityRun == nil {
		run := DefaultPriorityRun
		f.PriorityRun = &run
	}
	p := Patch{Name: &f.Name, Kind: &f.Kind, Address: &f.Address, Status: &f.Status, SetCapacity: true, Capacity: f.Capacity, PriorityRun: f.PriorityRun, Settings: f.Settings, Thresholds: f.Thresholds}
	return p.Validate()
}

// Validate checks the fields a patch sets.
func (p Patch) Validate() error {
	if p.Name != nil {
		*p.Name = strings.TrimSpace(*p.Name)
		if err := checkText("name", *p.Name, 1, 200); err != nil {
			return err
		}
	}
	if p.Kind != nil && !kinds[*p.Kind] {
		return Errorf(CodeInvalid, "kind must be one of government, bank, utility, health, other")
	}
	if p.Address != nil {
		*p.Address = strings.TrimSpace(*p.Address)
		if err := checkText("address", *p.Address, 0, 500); err != nil {
			return err
		}
	}
	if p.Status != nil {
		switch *p.Status {
		case StatusOpen, StatusPaused, StatusClosed:
		default:
			return Errorf(CodeInvalid, "status must be one of open, paused, closed")
		}
	}
	if p.SetCapacity && p.Capacity != nil && (*p.Capacity < 1 || *p.Capacity > 1_000_000) {
		return Errorf(CodeInvalid, "capacity must be null or an integer from 1 to 1000000")
	}
	if p.PriorityRun != nil && (*p.PriorityRun < 0 || *p.PriorityRun > MaxPriorityRun) {
		return Errorf(CodeInvalid, "priority_run must be an integer from 0 to %d (0: no priority lane)", MaxPriorityRun)
	}
	if err := p.Thresholds.Validate(); err != nil {
		return err
	}
	return p.Settings.Validate()
}

func checkText(field, s string, min, max int) error {
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || n < min || n > max {
		return Errorf(CodeInvalid, "%s must be %d to %d characters of valid text", field, min, max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return Errorf(CodeInvalid, "%s must not contain control characters", field)
		}
	}
	return nil
}

// apply sets the patched fields on inst and reports whether anything changed.
func (p Patch) apply(inst *Institution) (changed map[string]any) {
	changed = map[string]any{}
	if p.Name != nil && *p.Name != inst.Name {
		inst.Name = *p.Name
		changed["name"] = inst.Name
	}
	if p.Kind != nil && *p.Kind != inst.Kind {
		inst.Kind = *p.Kind
		changed["kind"] = inst.Kind
	}
	if p.Address != nil && *p.Address != inst.Address {
		inst.Address = *p.Address
		changed["address"] = inst.Address
	}
	if p.Status != nil && *p.Status != inst.Status {
		changed["status"] = map[string]Status{"from": inst.Status, "to": *p.Status}
		inst.Status = *p.Status
	}
	if p.SetCapacity && !equalPtr(p.Capacity, inst.Capacity) {
		inst.Capacity = p.Capacity
		changed["capacity"] = p.Capacity
	}
	if p.PriorityRun != nil && *p.PriorityRun != inst.PriorityRun {
		changed["priority_run"] = map[string]int{"from": inst.PriorityRun, "to": *p.PriorityRun}
		inst.PriorityRun = *p.PriorityRun
	}
	p.Settings.apply(&inst.Settings, changed)
	p.Thresholds.apply(&inst.Thresholds, changed)
	return changed
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// estimate fills the derived fields of an institution as of now: its own
// estimate is v1's (the institution-wide pace), its lines' are v1.1's
// (estimate_lines.go).
func (inst *Institution) estimate(now time.Time) {
	inst.EstimatedWaitSeconds = estimateWait(inst.CallInterval, inst.WaitingCount)
	if inst.RecentCalls == nil {
		inst.RecentCalls = []Call{}
	}
	inst.ensureLines()
	inst.estimateLines(now)
}

// estimateWait is how long a ticket with ahead people ahead of it should wait
// to be called at the observed pace, nil while the pace is unknown.
func estimateWait(interval time.Duration, ahead int64) *int64 {
	if interval <= 0 {
		return nil
	}
	s := int64((time.Duration(ahead+1) * interval).Round(time.Second) / time.Second)
	return &s
}

// observeCalls updates the call pace with n numbers called at now.
func (inst *Institution) observeCalls(n int, now time.Time) {
	if inst.LastCallAt != nil && n > 0 {
		gap := now.Sub(*inst.LastCallAt)
		// A gap of hours is a closed office, not the pace of service.
		if gap > 0 && gap < 2*time.Hour {
			sample := gap / time.Duration(n)
			if inst.CallInterval == 0 {
				inst.CallInterval = sample
			} else {
				// Exponential moving average, weight 0.3 on the newest sample.
				inst.CallInterval = (7*inst.CallInterval + 3*sample) / 10
			}
		}
	}
	inst.LastCallAt = &now
}
