// Package web serves the pages people use: the phone page (/), the staff
// console (/staff) and the hall display board (/board/{id}), embedded in the
// binary, and the service worker (/sw.js) that shows web pushes. The pages
// speak only the public HTTP and WebSocket contract (shared/API.md), through
// relative URLs, so they work against any instance behind a load balancer
// and under any path prefix. It knows nothing of the queue's types, stores
// or brokers.
package web
