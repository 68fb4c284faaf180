package sms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Message is one text to send.
type Message struct {
	To   string // the citizen's number as joined: 0 and 10 digits
	Body string
	ID   string // QueueLess's id of this text: the receiver's key against repeats
}

// Gateway sends texts.
type Gateway interface {
	// Send hands m to the gateway and returns the gateway's id for it. An
	// error wrapping ErrRejected will fail again if retried (a bad number,
	// bad credentials); any other error is worth retrying.
	Send(ctx context.Context, m Message) (string, error)
}

// ErrRejected marks an error that a retry cannot fix.
var ErrRejected = errors.New("rejected by the SMS gateway")

// statusError turns a gateway's non-success answer into an error: 408, 429
// and 5xx are worth retrying, every other 4xx is a rejection.
func statusError(gateway string, status int, detail string) error {
	if status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 {
		return fmt.Errorf("%s answered %d: %s", gateway, status, detail)
	}
	return fmt.Errorf("%w: %s answered %d: %s", ErrRejected, gateway, status, detail)
}

// E164 turns a number as citizens type it (0 and 10 digits) into the
// international form gateways need, with country code cc ("63").
func E164(local, cc string) string {
	if len(local) > 1 && local[0] == '0' {
		return "+" + cc + local[1:]
	}
	return local
}

// Local is E164's inverse: "+639171234567" with cc "63" is "09171234567".
// Numbers of another country are returned as they are.
func Local(e164, cc string) string {
	p := "+" + cc
	if len(e164) > len(p) && e164[:len(p)] == p {
		return "0" + e164[len(p):]
	}
	return e164
}
