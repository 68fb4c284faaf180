package httpapi

import (
	"time"

	"github.com/queueless/queueless/queue"
)

// statsLocation is the timezone whose hours stats' by_hour counts in: the
// institution's own (UTC when it names none). This is the only place stats
// learn it.
func statsLocation(inst queue.Institution) *time.Location {
	return inst.Location()
}
