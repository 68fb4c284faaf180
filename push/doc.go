// Package push sends Web Push messages: the server's VAPID key pair and where
// it comes from (KeySource), the browser's PushSubscription (its JSON, its
// endpoint rules), RFC 8291 message encryption (aes128gcm, one RFC 8188
// record), the RFC 8292 VAPID Authorization header, and the Sender that
// POSTs to a push service and says what its answer means (sent, gone,
// retry after, permanent). It knows nothing of HTTP routing, the store,
// tickets or River: its callers decide what a ticket's notification says,
// where subscriptions are kept and how a failed send is retried.
//
// # Why no library
//
// It is written on the standard library (crypto/ecdh, crypto/ecdsa,
// crypto/hkdf, crypto/aes) rather than on github.com/SherClockHolmes/webpush-go:
// by default that library pads every message to the full 4096-byte record
// (which Firefox for Android and Apple's relays have answered with 413),
// lets no caller fix the salt or the sender key (so the RFC 8291 Appendix A
// vector cannot be checked against it from here), and brings a JWT library
// along for one ES256 signature. Both RFCs take about 250 lines here
// (encrypt.go, vapid.go), checked byte for byte against the RFCs' own
// examples and against an independent decryption written in the tests.
//
// # Keys
//
// VAPID_PRIVATE_KEY holds the private key as the web-push tools print it
// (base64url of the 32-byte P-256 scalar) or as a PEM "EC PRIVATE KEY" /
// "PRIVATE KEY" block; the public key is derived from it. In embedded mode
// no variable is needed: KeySource generates a pair once and keeps it in a
// KeyStore (MemoryKeyStore, for the process's life, which is also the life of
// embedded mode's tickets and subscriptions). In production the KeyStore is
// notify.PostgresStore (table push_keys: the first instance's key wins), so
// the variable is optional there too.
// VAPID_SUBJECT (a mailto: or https: contact, ValidateSubject) is the JWT's
// sub, which push services use to reach the operator.
//
// # Wiring (at the integration)
//
//	keys, err := push.KeySource{Private: cfg.VAPIDPrivateKey, Store: store}.Keys(ctx)
//	// store: &push.MemoryKeyStore{} in embedded mode, nil in production;
//	// errors.Is(err, push.ErrNoKey): push is off (GET /api/v1/push/key
//	// answers 404, and the phone page's opt-in says it failed).
//	sender := &push.Sender{Keys: keys, Subject: cfg.VAPIDSubject} // sender.Close() at shutdown
//
//	GET  /api/v1/push/key          -> {"public_key": keys.PublicKey()}
//	POST /api/v1/tickets/{id}/push -> sub, err := push.ParseSubscription(body)
//	        errors.Is(err, push.ErrInvalidSubscription): 400 invalid_request
//	        with err.Error() as the message; else store sub (its JSON from
//	        json.Marshal(sub) round-trips through ParseSubscription): 201.
//
// The zero Policy (https only, public hosts) is production's and embedded
// mode's; tests whose push service is an httptest server use
// Policy{AllowLoopback: true}, on the Sender and when parsing. The jobs
// worker reads the stored subscription back with the same Policy and sends
//
//	err := sender.Send(ctx, sub, push.Message{Event, Title, Body, URL}, push.Options{TTL: 10 * time.Minute, Urgency: push.UrgencyHigh, Topic: push.TopicFor(ticketID)})
//
// then maps push.OutcomeOf(err): Sent records the delivery sent; Gone
// deletes the subscription (the browser unsubscribed or the endpoint
// expired) and ends the job; Retry returns the error, or
// river.JobSnooze(se.RetryAfter) when the *SendError has a RetryAfter;
// Permanent fails the delivery without retrying (river.JobCancel: 400, 401,
// 403, 413, a bad key, subject or subscription, or too large a message,
// which repeating will not fix). SendError.Detail is the delivery's
// last_error.
//
// The browser side is web/static/push.js (the opt-in: permission, service
// worker, subscribe with GET /api/v1/push/key, POST to the ticket) and
// web/static/sw.js (shows the notification, opens or focuses its url on a
// click), served at <root>/sw.js so that its scope is the whole site and
// stays the same across builds. The phone page already imports push.js;
// the integration adds a button ("Notify me even when this page is
// closed") to the ticket view and calls
//
//	const detach = offerPush(button, ticket.id, { onMessage: (text) => say(text) });
//
// when the view opens (detach() when it closes): offerPush hides the button
// where pushes cannot work, runs the opt-in on a click and shows "on" after.
package push
