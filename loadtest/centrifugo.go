package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/coder/websocket"
)

// The fan-out's second reference: Centrifugo (https://github.com/centrifugal/centrifugo)
// with its Redis engine, the real-time server the fan-out target is set
// against. The project neither ships nor fetches it: the benchmark takes
// the path of a binary the user built from its public source (see
// docs/BENCHMARKS.md), and without one reports the reference as not built.
//
// Subscribers speak Centrifugo's JSON client protocol over
// /connection/websocket: a connect command and a subscribe command, then
// publications arrive as push replies, several to a message at times (one
// JSON object per line), and the server's pings are empty objects the
// client answers with one. A call is a POST /api/publish of the same frame
// the minimal server broadcasts (minimalFrame), as the publication's data.

// TargetCentrifugo is the fan-out target of a Centrifugo node.
const TargetCentrifugo = "centrifugo"

// centrifugoChannel is the one channel the subscribers follow.
const centrifugoChannel = "queueless-bench"

// centrifugoConfig is a node's configuration file: anonymous clients
// (client.insecure) that may subscribe to any channel, the HTTP API behind
// a key, the Redis engine on the run's own key prefix. Everything else
// keeps Centrifugo's defaults, as deployed.
func centrifugoConfig(port int, redisURL, prefix, apiKey string) ([]byte, error) {
	return json.MarshalIndent(map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"log":         map[string]any{"level": "info"},
		"client":      map[string]any{"insecure": true},
		"http_api":    map[string]any{"key": apiKey},
		"health":      map[string]any{"enabled": true},
		"engine": map[string]any{"type": "redis", "redis": map[string]any{
			"address": []string{redisURL}, "prefix": prefix,
		}},
	}, "", "  ")
}

// centrifugo starts a Centrifugo node (the binary at cfg.Centrifugo) on
// the run's Redis, under a key prefix of the run's own.
func (b *bench) centrifugo(ctx context.Context, name, apiKey string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	conf, err := centrifugoConfig(port, b.cfg.RedisURL, b.scratch.prefix+"centrifugo", apiKey)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(b.cfg.WorkDir, name+".json")
	if err := os.WriteFile(path, conf, 0o600); err != nil {
		return nil, err
	}
	srv, err := startProc(ctx, name, []string{b.cfg.Centrifugo, "--config", path}, nil, "http://"+addr+"/health", b.cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	srv.URL = "http://" + addr
	return srv, nil
}

// centrifugoHello is what a subscriber sends once connected: connect
// (anonymous) and subscribe, in one message.
var centrifugoHello = []byte(`{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"` + centrifugoChannel + `"}}`)

// centrifugoJoin connects and subscribes on ws; it returns once the
// subscribe reply is in.
func centrifugoJoin(ctx context.Context, ws *websocket.Conn) error {
	if err := ws.Write(ctx, websocket.MessageText, centrifugoHello); err != nil {
		return err
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		for line := range bytes.SplitSeq(data, []byte{'\n'}) {
			var reply struct {
				ID    int             `json:"id"`
				Error json.RawMessage `json:"error"`
			}
			if len(line) == 0 || json.Unmarshal(line, &reply) != nil {
				continue
			}
			if reply.Error != nil {
				return fmt.Errorf("centrifugo refused command %d: %s", reply.ID, reply.Error)
			}
			if reply.ID == 2 {
				return nil
			}
		}
	}
}

// centrifugoPing is a server ping, and the client's pong.
var centrifugoPing = []byte("{}")

// centrifugoPublish publishes frame to the subscribers' channel.
func centrifugoPublish(ctx context.Context, c *Client, apiKey string, frame []byte) (bool, error) {
	body := make([]byte, 0, len(frame)+64)
	body = append(body, `{"channel":"`+centrifugoChannel+`","data":`...)
	body = append(body, frame...)
	body = append(body, '}')
	resp, err := c.Do(ctx, Req{Op: "call", Method: http.MethodPost, Path: "/api/publish", Body: body,
		Header: http.Header{"X-Api-Key": {apiKey}}})
	if err != nil {
		return false, nil // recorded; the run goes on
	}
	if resp.Status != http.StatusOK {
		return false, nil
	}
	// The API answers errors with 200 and an error object.
	var res struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := resp.Decode(&res); err != nil {
		return false, err
	}
	if res.Error != nil {
		return false, errors.New("centrifugo publish: " + res.Error.Message)
	}
	return true, nil
}
