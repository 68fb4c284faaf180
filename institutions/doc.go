// Package institutions is the directory side of QueueLess: the demo
// institutions of embedded mode and seeding. It uses the queue package's
// public API only and knows nothing of HTTP or storage.
package institutions
