package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// sample is one update frame received: the version it carries and when.
type sample struct {
	version int64
	at      int64 // Unix ns
}

// runClients is the "clients" subcommand: it holds n live connections from
// one source address, says "ready" once every snapshot has arrived, records
// every update until stdin closes, then prints "version unix_ns" lines.
func runClients(args []string) error {
	fs := flag.NewFlagSet("clients", flag.ExitOnError)
	url := fs.String("url", "", "ws:// URL of the stream")
	n := fs.Int("n", 1000, "connections")
	src := fs.String("src", "127.0.0.1", "source address to dial from")
	_ = fs.Parse(args)

	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(*src)}, Timeout: 30 * time.Second}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: -1}}
	conns := make([]*websocket.Conn, *n)
	samples := make([][]sample, *n)
	var ready sync.WaitGroup
	var failed atomic.Int64
	var readers sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range *n {
		ready.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			ws, _, err := websocket.Dial(ctx, *url, &websocket.DialOptions{HTTPClient: hc, CompressionMode: websocket.CompressionDisabled})
			if err != nil {
				failed.Add(1)
				fmt.Fprintf(os.Stderr, "dial: %v\n", err)
				ready.Done()
				return
			}
			ws.SetReadLimit(1 << 20)
			conns[i] = ws
			readers.Add(1)
			go func() {
				defer readers.Done()
				first := true
				for {
					_, b, err := ws.Read(context.Background())
					if err != nil {
						if first {
							ready.Done()
						}
						return
					}
					now := time.Now().UnixNano()
					if first {
						first = false
						ready.Done()
						continue
					}
					if v, ok := versionOf(b); ok {
						samples[i] = append(samples[i], sample{version: v, at: now})
					}
				}
			}()
		}()
	}
	ready.Wait()
	fmt.Printf("ready %d %d\n", *n-int(failed.Load()), failed.Load())
	// Wait for the orchestrator to close our stdin.
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	for _, ws := range conns {
		if ws != nil {
			_ = ws.CloseNow()
		}
	}
	readers.Wait()
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	for _, list := range samples {
		for _, s := range list {
			fmt.Fprintf(w, "%d %d\n", s.version, s.at)
		}
	}
	return w.Flush()
}

var versionKey = []byte(`"version":`)

// versionOf finds the institution version in a frame without decoding it
// all: the clients share two cores with the servers they measure.
func versionOf(b []byte) (int64, bool) {
	i := bytes.Index(b, versionKey)
	if i < 0 {
		return 0, false
	}
	rest := b[i+len(versionKey):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	v, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return v, err == nil
}
