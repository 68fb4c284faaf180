package queue

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
)

// SetServices replaces institution id's services with specs, in display
// order. A service that keeps its code keeps its state (waiting tickets,
// labels, streak); removing one that has waiting tickets or issued tickets
// today is a conflict. Counters lose the codes of removed services.
func (s *Service) SetServices(ctx context.Context, id int64, specs []LineSpec, meta Meta) (Institution, error) {
	specs = slices.Clone(specs) // validation trims and fills in: the caller's stay as they are
	if err := validateLineSpecs(specs); err != nil {
		return Institution{}, err
	}
	return s.changeInstitution(ctx, id, meta, AuditServices, func(inst *Institution, now string) (any, error) {
		old := inst.Services
		var nextID int64
		for _, l := range old {
			nextID = max(nextID, l.ID)
		}
		lines := make([]Line, len(specs))
		for i, sp := range specs {
			l := Line{Code: sp.Code}
			if prev := inst.line(sp.Code); prev != nil {
				l = *prev
			} else {
				nextID++
				l.ID = nextID
			}
			l.Name, l.Status, l.DailyQuota, l.Position = sp.Name, sp.Status, sp.DailyQuota, i+1
			lines[i] = l
		}
		for _, l := range old {
			if slices.ContainsFunc(specs, func(sp LineSpec) bool { return sp.Code == l.Code }) {
				continue
			}
			if l.WaitingCount > 0 || l.issuedToday(now) > 0 {
				return nil, Errorf(CodeConflict, "service %s has tickets today and cannot be removed; pause or close it instead", l.Code)
			}
		}
		inst.Services = lines
		kept := inst.Counters[:0:0]
		for _, c := range inst.Counters {
			c.Services = slices.DeleteFunc(slices.Clone(c.Services), func(code string) bool { return inst.line(code) == nil })
			if len(c.Services) > 0 {
				kept = append(kept, c)
			}
		}
		inst.Counters = kept
		return map[string]any{"services": specsData(specs)}, nil
	})
}

func specsData(specs []LineSpec) []map[string]any {
	out := make([]map[string]any, len(specs))
	for i, sp := range specs {
		out[i] = map[string]any{"code": sp.Code, "name": sp.Name, "status": sp.Status, "daily_quota": sp.DailyQuota}
	}
	return out
}

// LinePatch changes some fields of one service; nil fields stay.
type LinePatch struct {
	Status     *Status
	Name       *string
	SetQuota   bool
	DailyQuota *int64
}

// OnlyStatus reports whether the patch touches nothing but the status.
func (p LinePatch) OnlyStatus() bool { return p.Name == nil && !p.SetQuota }

// UpdateService patches service code of institution id.
func (s *Service) UpdateService(ctx context.Context, id int64, code string, p LinePatch, meta Meta) (Institution, error) {
	if p.Status != nil {
		if err := validStatus("status", *p.Status); err != nil {
			return Institution{}, err
		}
	}
	if p.Name != nil {
		*p.Name = strings.TrimSpace(*p.Name)
		if err := checkText("name", *p.Name, 1, 100); err != nil {
			return Institution{}, err
		}
	}
	if p.SetQuota {
		if err := validQuota("daily_quota", p.DailyQuota); err != nil {
			return Institution{}, err
		}
	}
	return s.changeInstitution(ctx, id, meta, AuditServices, func(inst *Institution, now string) (any, error) {
		l := inst.line(code)
		if l == nil {
			return nil, Errorf(CodeNotFound, "institution %d has no service %s", id, code)
		}
		changed := map[string]any{}
		if p.Status != nil && *p.Status != l.Status {
			changed["status"] = map[string]Status{"from": l.Status, "to": *p.Status}
			l.Status = *p.Status
		}
		if p.Name != nil && *p.Name != l.Name {
			changed["name"] = *p.Name
			l.Name = *p.Name
		}
		if p.SetQuota && !equalPtr(p.DailyQuota, l.DailyQuota) {
			changed["daily_quota"] = p.DailyQuota
			l.DailyQuota = p.DailyQuota
		}
		if len(changed) == 0 {
			return nil, nil
		}
		changed["service"] = code
		return changed, nil
	})
}

// SetCounters replaces institution id's counters.
func (s *Service) SetCounters(ctx context.Context, id int64, counters []Counter, meta Meta) (Institution, error) {
	return s.changeInstitution(ctx, id, meta, AuditCounters, func(inst *Institution, now string) (any, error) {
		list := slices.Clone(counters)
		if err := validateCounters(list, inst.Services); err != nil {
			return nil, err
		}
		inst.Counters = list
		return map[string]any{"counters": list}, nil
	})
}

// changeInstitution runs fn on the locked institution; fn returns the
// audit data of its change, or nil when it changed nothing (then nothing
// is written and the version stays).
func (s *Service) changeInstitution(ctx context.Context, id int64, meta Meta, kind string, fn func(inst *Institution, today string) (any, error)) (Institution, error) {
	var out Institution
	_, err := s.update(ctx, id, nil, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
		inst := tx.Institution()
		inst.ensureLines()
		now := s.clock()
		before, _ := json.Marshal(struct {
			S []LineRecord
			C []Counter
		}{LineRecords(inst.Services), inst.Counters})
		data, err := fn(&inst, LocalDay(&inst, now))
		if err != nil {
			return Changes{}, nil, err
		}
		out = inst
		after, _ := json.Marshal(struct {
			S []LineRecord
			C []Counter
		}{LineRecords(inst.Services), inst.Counters})
		if data == nil || string(before) == string(after) {
			out = tx.Institution()
			return Changes{}, nil, nil
		}
		s.bump(&inst, now)
		out = inst
		raw, _ := json.Marshal(data)
		return Changes{Institution: &inst, Audit: []AuditEvent{s.audit(now, kind, nil, meta, raw)}}, nil, nil
	})
	out.estimate(s.clock())
	return out, err
}
