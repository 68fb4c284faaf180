// Package queue owns the rules of a QueueLess queue: institutions' queue
// state, tickets and their life, gap-free numbering, people-ahead and wait
// estimates. It defines the Store it needs (memory and PostgreSQL
// implementations live here too) and knows nothing of HTTP, WebSockets or Redis.
package queue
