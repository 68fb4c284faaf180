package notify

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/queueless/queueless/queue"
)

// plan is what a change asks of notify: the deliveries of its
// notifications, and a phone job per ticket that joined with a phone.
type plan struct {
	sms, pushes []Delivery
	phones      []river.InsertManyParams
}

// planOf reads a change. A join with a phone costs one job (phoneArgs:
// record the number's ticket, send the code when it is not verified), and
// a change issuing phonesAtOnce tickets with phones or more one job for
// all (phonesArgs); no query is made for them in the join's transaction.
func (s *Service) planOf(ch *queue.Changes) plan {
	var p plan
	var tickets map[string]*queue.Ticket
	var issued map[string]bool
	if len(ch.Notifications) > 0 {
		tickets = make(map[string]*queue.Ticket, len(ch.Inserted)+len(ch.Updated))
		issued = make(map[string]bool, len(ch.Inserted))
		for i := range ch.Inserted {
			tickets[ch.Inserted[i].ID] = &ch.Inserted[i]
			issued[ch.Inserted[i].ID] = true
		}
		for i := range ch.Updated {
			tickets[ch.Updated[i].ID] = &ch.Updated[i]
		}
	}
	for _, n := range ch.Notifications {
		if !Delivered(n.Event) {
			continue
		}
		d := Delivery{NotificationID: n.ID, TicketID: n.TicketID, Event: n.Event, Status: StatusPending, CreatedAt: n.CreatedAt, UpdatedAt: n.CreatedAt}
		if t := tickets[n.TicketID]; s.cfg.Gateway != nil && t != nil && t.Phone != nil {
			d.Channel = ChannelSMS
			p.sms = append(p.sms, d)
		}
		// A ticket issued in this very change has no subscription yet:
		// a join costs no push query.
		if s.cfg.Push != nil && !issued[n.TicketID] {
			d.Channel = ChannelPush
			p.pushes = append(p.pushes, d)
		}
	}
	if s.cfg.Gateway != nil {
		var phones []phoneArgs
		for _, t := range ch.Inserted {
			if t.Phone != nil {
				phones = append(phones, phoneArgs{TicketID: t.ID, Phone: *t.Phone})
			}
		}
		if len(phones) >= phonesAtOnce {
			p.phones = []river.InsertManyParams{{Args: phonesArgs{Phones: phones}, InsertOpts: s.insertOpts()}}
		} else {
			for _, a := range phones {
				p.phones = append(p.phones, river.InsertManyParams{Args: a, InsertOpts: s.insertOpts()})
			}
		}
	}
	return p
}

func (s *Service) paramsOf(ds []Delivery) []river.InsertManyParams {
	out := make([]river.InsertManyParams, 0, len(ds))
	for _, d := range ds {
		var args river.JobArgs = smsArgs{NotificationID: d.NotificationID}
		if d.Channel == ChannelPush {
			args = pushArgs{NotificationID: d.NotificationID}
		}
		out = append(out, river.InsertManyParams{Args: args, InsertOpts: s.insertOpts()})
	}
	return out
}

// EnqueueTx implements queue.Outbox: delivery rows and their jobs are
// written in the change's transaction.
func (s *Service) EnqueueTx(ctx context.Context, tx pgx.Tx, ch *queue.Changes) error {
	p := s.planOf(ch)
	params := p.phones
	if len(p.sms)+len(p.pushes) > 0 {
		ds, err := s.store.insert(ctx, tx, p.sms, p.pushes)
		if err != nil {
			return err
		}
		params = append(params, s.paramsOf(ds)...)
	}
	return s.jobs.InsertManyTx(ctx, tx, params)
}

// Enqueue implements queue.Outbox for the memory store, inside its
// critical section; the rows are taken back if the jobs cannot be written.
func (s *Service) Enqueue(ctx context.Context, ch *queue.Changes) error {
	p := s.planOf(ch)
	params := p.phones
	var ds []Delivery
	if len(p.sms)+len(p.pushes) > 0 {
		var err error
		if ds, err = s.store.insert(ctx, nil, p.sms, p.pushes); err != nil {
			return err
		}
		params = append(params, s.paramsOf(ds)...)
	}
	if err := s.jobs.InsertMany(context.WithoutCancel(ctx), params); err != nil {
		s.store.forget(ds)
		return queue.Errorf(queue.CodeUnavailable, "enqueue notification deliveries: %v", err)
	}
	return nil
}
