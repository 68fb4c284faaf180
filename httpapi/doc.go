// Package httpapi is the HTTP face of QueueLess: routes, thin handlers that
// decode, call the domain and encode, the one error handler and the
// middleware (request ids, limits, logs, metrics). It holds no queue rules.
package httpapi
