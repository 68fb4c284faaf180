// Package notify delivers a ticket's notifications on the channels its
// citizen chose (API.md v1.1, "Notifications delivered"): texts through an
// sms.Gateway and web pushes through a push.Sender, each delivery a River
// job enqueued in the transaction of the change that caused it (it is a
// queue.Outbox), retried with backoff, its status kept per notification and
// channel (pending, sent, failed, suppressed). It also keeps phones'
// verification and opt-out, answers inbound texts (STATUS, CANCEL, LATER,
// STOP, START), and keeps push subscriptions and the generated VAPID key.
//
// It knows nothing of HTTP routing or of how jobs are stored: httpapi parses
// requests and checks inbound signatures; jobs runs the workers.
package notify
