// Package auth holds bearer tokens: staff tokens bound to institutions and
// admin tokens. Only a SHA-256 hash of a token is stored; comparisons are
// constant-time. It knows nothing of HTTP.
package auth
