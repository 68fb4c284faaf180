package push

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Message is what a notification says: the plaintext of every push is its
// JSON, {"event", "title", "body", "url"} (shared/API.md, "Web push"), read
// by web/static/sw.js.
type Message struct {
	Event string `json:"event"` // the notification's event: near_turn, turn_called...
	Title string `json:"title"`
	Body  string `json:"body"`
	URL   string `json:"url"` // the page to open on a click: the ticket's phone page
}

// Marshal encodes the message as the push's plaintext, or ErrTooLarge when
// it would not fit one message.
func (m Message) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // a notification is text, and every byte counts
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("push: encode message: %w", err)
	}
	p := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(p) > MaxPlaintext {
		return nil, fmt.Errorf("%w: %d bytes of JSON, at most %d", ErrTooLarge, len(p), MaxPlaintext)
	}
	return p, nil
}
