package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// runMinimal is the "minimal" subcommand: the reference, a broadcast
// server as small as coder/websocket's chat example allows. Each
// subscriber has a buffered channel and a writer with a write timeout;
// POST /publish?v=N sends every subscriber a frame the size of a QueueLess
// institution update carrying version N.
func runMinimal(args []string) error {
	fs := flag.NewFlagSet("minimal", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	_ = fs.Parse(args)

	var mu sync.Mutex
	subs := map[chan []byte]func(){}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := ws.CloseRead(context.Background())
		msgs := make(chan []byte, 16)
		mu.Lock()
		subs[msgs] = func() { go ws.Close(websocket.StatusPolicyViolation, "too slow") }
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(subs, msgs)
			mu.Unlock()
		}()
		msgs <- frameFor(0, "snapshot")
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-msgs:
				wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := ws.Write(wctx, websocket.MessageText, m)
				cancel()
				if err != nil {
					return
				}
			}
		}
	})
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		v, _ := strconv.ParseInt(r.URL.Query().Get("v"), 10, 64)
		m := frameFor(v, "update")
		mu.Lock()
		for ch, closeSlow := range subs {
			select {
			case ch <- m:
			default:
				closeSlow()
			}
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	fmt.Println("minimal serving on", *addr)
	return http.ListenAndServe(*addr, mux)
}

// frameFor is a frame shaped and sized like a QueueLess institution frame.
func frameFor(v int64, typ string) []byte {
	calls := strings.Repeat(`{"number":123,"counter":"3","called_at":"2026-11-23T19:00:00.000000Z"},`, 5)
	return []byte(fmt.Sprintf(`{"type":%q,"institution":{"id":1,"name":"Fan-out Office","kind":"government","address":"Quezon City","status":"open","now_serving":%d,"last_issued":%d,"waiting_count":100,"capacity":null,"recent_calls":[%s],"estimated_wait_seconds":420,"version":%d,"updated_at":"%s"}}`,
		typ, v, v+100, strings.TrimSuffix(calls, ","), v, time.Now().UTC().Format(time.RFC3339Nano)))
}
