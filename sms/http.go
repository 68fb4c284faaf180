package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/queueless/queueless/webhooks"
)

// HTTP sends texts as JSON {"to", "body", "id"} POSTed to URL, signed like
// webhooks (X-QueueLess-Signature: sha256=<hex HMAC-SHA256 of the body>
// with Secret); a 2xx means accepted.
type HTTP struct {
	URL    string
	Secret string
	Client *http.Client
}

var _ Gateway = (*HTTP)(nil)

// Send implements Gateway.
func (h *HTTP) Send(ctx context.Context, m Message) (string, error) {
	body, _ := json.Marshal(map[string]string{"to": m.To, "body": m.Body, "id": m.ID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: sms http request: %v", ErrRejected, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhooks.HeaderSignature, webhooks.Sign(h.Secret, body))
	resp, err := h.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("sms http gateway: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return "", statusError("sms http gateway", resp.StatusCode, string(bytes.TrimSpace(snippet)))
	}
	return m.ID, nil
}
