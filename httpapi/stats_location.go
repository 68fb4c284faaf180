package httpapi

import (
	"time"

	"github.com/queueless/queueless/queue"
)

// statsLocation is the timezone whose hours stats' by_hour counts in: the
// institution's own. Until institutions carry a timezone (issue 12's
// settings) it is UTC; the merge makes it the institution's. This is the
// only place stats learn it.
func statsLocation(inst queue.Institution) *time.Location {
	_ = inst
	return time.UTC
}
