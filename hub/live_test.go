package hub_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/queueless/queueless/hub"
	"github.com/queueless/queueless/queue"
)

// TestTicketStreamCountsDown follows ticket N from two instances while
// changes go through a third: people_ahead counts down exactly, one step
// per ticket ahead called or cancelled, near_turn and turn_called arrive as
// notifications, and no frame costs a query per subscriber.
func TestTicketStreamCountsDown(t *testing.T) {
	t.Parallel()
	s := newStack(t, 3, nil)
	inst := s.institution()
	var ahead []queue.Ticket
	for range 5 {
		ahead = append(ahead, s.join(0, inst.ID))
	}
	mine := s.join(0, inst.ID)
	phones := []*client{s.dial(1, "/ticket/"+mine.ID), s.dial(2, "/ticket/"+mine.ID)}
	for _, p := range phones {
		f := p.waitFor("snapshot", 5*time.Second, func(f liveFrame) bool { return f.Type == "snapshot" })
		if got, want := f.Ticket.PeopleAhead, int64(5); got != want {
			t.Fatalf("snapshot people_ahead = %d, want %d", got, want)
		}
		if got, want := f.Ticket.Status, queue.TicketWaiting; got != want {
			t.Fatalf("snapshot status = %s, want %s", got, want)
		}
	}
	step := func(what string, wantAhead int64, wantStatus queue.TicketStatus, act func()) {
		t.Helper()
		act()
		for i, p := range phones {
			f := p.waitLast(fmt.Sprintf("%s on phone %d", what, i), 5*time.Second, func(f liveFrame) bool {
				return f.Ticket != nil && f.Ticket.PeopleAhead == wantAhead && f.Ticket.Status == wantStatus
			})
			if f.Type != "update" {
				t.Errorf("%s: frame type %q, want update", what, f.Type)
			}
		}
	}
	// Cancelling a ticket ahead: 4 ahead, within no threshold yet (3).
	step("cancel of a ticket ahead", 4, queue.TicketWaiting, func() {
		if _, err := s.inst[0].svc.Cancel(context.Background(), ahead[2].ID, queue.Meta{Actor: queue.ActorCitizen}); err != nil {
			t.Fatalf("cancel: %v", err)
		}
	})
	step("first call", 3, queue.TicketNotified, func() { s.advance(0, inst.ID) })
	step("second call", 2, queue.TicketNotified, func() { s.advance(0, inst.ID) })
	step("third call", 1, queue.TicketNotified, func() { s.advance(0, inst.ID) })
	step("fourth call", 0, queue.TicketNotified, func() { s.advance(0, inst.ID) })
	step("my call", 0, queue.TicketServing, func() { s.advance(0, inst.ID) })

	for i, p := range phones {
		p.waitFor("turn_called", 5*time.Second, func(f liveFrame) bool {
			return f.Type == "notification" && f.Notification.Event == queue.NotifyTurnCalled && f.Notification.TicketID == mine.ID
		})
		var aheads []int64
		var events []string
		for _, f := range p.all() {
			switch {
			case f.Ticket != nil && (len(aheads) == 0 || aheads[len(aheads)-1] != f.Ticket.PeopleAhead):
				aheads = append(aheads, f.Ticket.PeopleAhead)
			case f.Notification != nil:
				if f.Notification.TicketID != mine.ID {
					t.Errorf("phone %d got a notification for another ticket: %+v", i, f.Notification)
				}
				events = append(events, f.Notification.Event)
			}
		}
		if got, want := fmt.Sprint(aheads), "[5 4 3 2 1 0]"; got != want {
			t.Errorf("phone %d: people_ahead went %s, want %s", i, got, want)
		}
		if got, want := strings.Join(events, ","), "near_turn,turn_called"; got != want {
			t.Errorf("phone %d: notifications %s, want %s", i, got, want)
		}
		// The last frame equals what the API says now.
		api, err := s.inst[0].svc.Ticket(context.Background(), mine.ID)
		if err != nil {
			t.Fatalf("get ticket: %v", err)
		}
		lastTicket := lastWith(p.all(), func(f liveFrame) bool { return f.Ticket != nil }).Ticket
		if got, want := ticketJSON(t, lastTicket), ticketJSON(t, &api); got != want {
			t.Errorf("phone %d: last ticket frame\n%s\nwant (API)\n%s", i, got, want)
		}
	}
}

// TestInstitutionStreamAcrossInstances: changes through one instance reach
// board clients of every instance, version by version, and announcements
// reach institution and ticket streams alike.
func TestInstitutionStreamAcrossInstances(t *testing.T) {
	t.Parallel()
	s := newStack(t, 2, nil)
	inst := s.institution()
	tk := s.join(0, inst.ID)
	boards := []*client{s.dial(0, instPath(inst.ID)), s.dial(1, instPath(inst.ID))}
	phone := s.dial(1, "/ticket/"+tk.ID)
	for range 10 {
		s.join(0, inst.ID)
	}
	s.advance(1, inst.ID)
	if _, err := s.inst[0].svc.Announce(context.Background(), inst.ID, "Counter 3 is closing", queue.Meta{Actor: "token:1"}); err != nil {
		t.Fatalf("announce: %v", err)
	}
	want, err := s.inst[0].svc.Institution(context.Background(), inst.ID)
	if err != nil {
		t.Fatalf("get institution: %v", err)
	}
	for i, b := range append(boards, phone) {
		b.waitFor("announcement", 5*time.Second, func(f liveFrame) bool {
			return f.Type == "announcement" && f.Message == "Counter 3 is closing"
		})
		if i == len(boards) {
			break
		}
		// The announcement went out through instance 0 and the call through
		// instance 1: Redis orders each publisher's messages, not the two
		// together, so the call may reach a board after the announcement.
		// What must hold is that it does arrive, in version order.
		b.waitLast("the final version", 5*time.Second, func(f liveFrame) bool {
			return f.Institution != nil && f.Institution.Version >= want.Version
		})
		frames := b.all()
		if frames[0].Type != "snapshot" {
			t.Errorf("board %d: first frame %q, want a snapshot", i, frames[0].Raw)
		}
		var prev int64
		for _, f := range frames {
			if f.Institution == nil {
				continue
			}
			if f.Institution.Version <= prev {
				t.Errorf("board %d: version %d after %d", i, f.Institution.Version, prev)
			}
			prev = f.Institution.Version
		}
		got := lastWith(frames, func(f liveFrame) bool { return f.Institution != nil }).Institution
		if got, want := instJSON(t, got), instJSON(t, &want); got != want {
			t.Errorf("board %d: last institution frame\n%s\nwant (API)\n%s", i, got, want)
		}
	}
}

// TestSlowClientIsDisconnected: a client that stops reading is dropped
// while the others keep getting every change promptly. Were the fan-out
// waiting on the stalled client, fast clients would wait out its write
// timeout (3s) again and again.
func TestSlowClientIsDisconnected(t *testing.T) {
	t.Parallel()
	const writeTimeout = 3 * time.Second
	s := newStack(t, 1, func(c *hub.Config) {
		c.WriteTimeout = writeTimeout
		c.OutboxSize = 8
	}, withSmallSendBuffers())
	inst := s.institution()
	var fast []*client
	for range 3 {
		fast = append(fast, s.dial(0, instPath(inst.ID)))
	}
	stalled := dialStalled(t, "ws"+strings.TrimPrefix(s.inst[0].srv.URL, "http")+instPath(inst.ID))

	msg := strings.Repeat("Please have your documents ready. ", 8)
	var delays []time.Duration // from the announcement's commit to the last fast client
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; metric(t, s.inst[0].reg, "queueless_live_slow_disconnects_total") < 1; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled client was not disconnected after %d announcements", i)
		}
		text := fmt.Sprintf("%d %s", i, msg)
		if _, err := s.inst[0].svc.Announce(context.Background(), inst.ID, text[:min(len(text), 280)], queue.Meta{Actor: "token:1"}); err != nil {
			t.Fatalf("announce: %v", err)
		}
		committed := time.Now()
		for _, c := range fast {
			c.waitFor("announcement "+fmt.Sprint(i), 2*writeTimeout, func(f liveFrame) bool {
				return f.Type == "announcement" && strings.HasPrefix(f.Message, fmt.Sprintf("%d ", i))
			})
		}
		delays = append(delays, time.Since(committed))
	}
	slices.Sort(delays)
	median, worst := delays[len(delays)/2], delays[len(delays)-1]
	if worst >= writeTimeout || median > 250*time.Millisecond {
		t.Errorf("fast clients waited %v (median) and %v (worst) for an announcement while a client was stalled; want well under the %v write timeout", median, worst, writeTimeout)
	}
	// The stalled client's connection is gone: once it reads again it
	// finds the end (a close frame, or a reset when the close frame could
	// not be written to a full socket).
	if err := stalled.drain(10 * time.Second); err == nil {
		t.Error("stalled client: connection still open")
	} else if code := websocket.CloseStatus(err); code != -1 && code != websocket.StatusPolicyViolation {
		t.Errorf("stalled client closed with %v, want policy violation (or a reset)", code)
	}
	if got := metric(t, s.inst[0].reg, "queueless_live_clients"); got != 3 {
		t.Errorf("connected clients = %v, want 3 (the fast ones)", got)
	}
	t.Logf("stalled client dropped after %d announcements; fast clients waited %v (median), %v (worst)", len(delays), median, worst)
}

// stalledClient never reads until drain.
type stalledClient struct{ ws *websocket.Conn }

func dialStalled(t *testing.T, url string) *stalledClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, smallReceiveBuffer())
	if err != nil {
		t.Fatalf("dial stalled client: %v", err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &stalledClient{ws: ws}
}

// drain reads until the connection ends and returns why.
func (c *stalledClient) drain(within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		if _, _, err := c.ws.Read(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// TestUnknownStreamsAreRefused: the hub refuses before any upgrade.
func TestUnknownStreamsAreRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t, 1, func(c *hub.Config) { c.MaxPerAddr = 2 })
	inst := s.institution()
	ctx := context.Background()
	if _, err := s.inst[0].hub.SubscribeInstitution(ctx, inst.ID+1000, "a"); !queue.IsNotFound(err) {
		t.Errorf("unknown institution: err %v, want not found", err)
	}
	if _, err := s.inst[0].hub.SubscribeTicket(ctx, "0e78ab8f-0000-4000-8000-000000000000", "a"); !queue.IsNotFound(err) {
		t.Errorf("unknown ticket: err %v, want not found", err)
	}
	var subs []*hub.Subscription
	for range 2 {
		sub, err := s.inst[0].hub.SubscribeInstitution(ctx, inst.ID, "a")
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		subs = append(subs, sub)
	}
	if _, err := s.inst[0].hub.SubscribeInstitution(ctx, inst.ID, "a"); err != hub.ErrTooManyConnections {
		t.Errorf("third connection from one address: err %v, want ErrTooManyConnections", err)
	}
	if sub, err := s.inst[0].hub.SubscribeInstitution(ctx, inst.ID, "b"); err != nil {
		t.Errorf("another address: %v", err)
	} else {
		sub.Close()
	}
	subs[0].Close()
	if sub, err := s.inst[0].hub.SubscribeInstitution(ctx, inst.ID, "a"); err != nil {
		t.Errorf("after a close, the address may connect again: %v", err)
	} else {
		sub.Close()
	}
	subs[1].Close()
}

// TestManySubscribersOneEncoding: a burst of changes reaches many
// subscribers, each ending on the current state with versions only going
// up.
func TestManySubscribersBurst(t *testing.T) {
	t.Parallel()
	s := newStack(t, 2, nil)
	inst := s.institution()
	var boards []*client
	for i := range 40 {
		boards = append(boards, s.dial(i%2, instPath(inst.ID)))
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				if _, err := s.inst[w%2].svc.Join(context.Background(), inst.ID, queue.JoinRequest{}, queue.Meta{Actor: queue.ActorCitizen}); err != nil {
					t.Errorf("join: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want, err := s.inst[0].svc.Institution(context.Background(), inst.ID)
	if err != nil {
		t.Fatalf("get institution: %v", err)
	}
	for i, b := range boards {
		f := b.waitLast(fmt.Sprintf("version %d on board %d", want.Version, i), 10*time.Second, func(f liveFrame) bool {
			return f.Institution != nil && f.Institution.Version == want.Version
		})
		if got, want := instJSON(t, f.Institution), instJSON(t, &want); got != want {
			t.Errorf("board %d: last frame\n%s\nwant\n%s", i, got, want)
		}
		var prev int64
		for _, f := range b.all() {
			if f.Institution != nil {
				if f.Institution.Version <= prev {
					t.Errorf("board %d: version %d after %d", i, f.Institution.Version, prev)
				}
				prev = f.Institution.Version
			}
		}
	}
}

// TestInboundLimits: clients have nothing to say on these streams; one that
// floods or sends a large message is closed.
func TestInboundLimits(t *testing.T) {
	t.Parallel()
	s := newStack(t, 1, func(c *hub.Config) { c.ReadLimit = 512; c.InboundRate = 1; c.InboundBurst = 5 })
	inst := s.institution()
	for _, tt := range []struct {
		name string
		send func(ctx context.Context, c *client) error
		want websocket.StatusCode
	}{
		{"flood", func(ctx context.Context, c *client) error {
			for range 20 {
				if err := c.ws.Write(ctx, websocket.MessageText, []byte(`{"hello":1}`)); err != nil {
					return nil // closed under us: fine
				}
			}
			return nil
		}, websocket.StatusPolicyViolation},
		{"large message", func(ctx context.Context, c *client) error {
			return c.ws.Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", 4096)))
		}, websocket.StatusMessageTooBig},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := s.dial(0, instPath(inst.ID))
			c.waitFor("snapshot", 5*time.Second, func(f liveFrame) bool { return f.Type == "snapshot" })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = tt.send(ctx, c)
			err := c.closeErr(5 * time.Second)
			if got := websocket.CloseStatus(err); got != tt.want {
				t.Errorf("closed with %v (%v), want %v", got, err, tt.want)
			}
		})
	}
}

// TestUnansweredPingsDisconnect: a client that never answers a ping (it
// does not read, so its library never sees the ping) is dropped even when
// nothing is being sent to it.
func TestUnansweredPingsDisconnect(t *testing.T) {
	t.Parallel()
	s := newStack(t, 1, func(c *hub.Config) { c.PingInterval = 100 * time.Millisecond; c.PongTimeout = 200 * time.Millisecond })
	inst := s.institution()
	live := s.dial(0, instPath(inst.ID)) // reads, so answers pings
	mute := dialStalled(t, "ws"+strings.TrimPrefix(s.inst[0].srv.URL, "http")+instPath(inst.ID))
	deadline := time.Now().Add(10 * time.Second)
	for metric(t, s.inst[0].reg, "queueless_live_slow_disconnects_total") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("a client that answers no ping is still connected after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := mute.drain(5 * time.Second); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Errorf("mute client ended with %v, want a policy-violation close", err)
	}
	time.Sleep(500 * time.Millisecond) // several more pings
	live.mu.Lock()
	err := live.err
	live.mu.Unlock()
	if err != nil {
		t.Errorf("a client that answers pings was dropped: %v", err)
	}
}
