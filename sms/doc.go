// Package sms sends texts through a gateway (Twilio's Messages API, or a
// plain signed JSON POST), checks the signatures of inbound messages
// (Twilio's X-Twilio-Signature), and writes the texts QueueLess sends. It
// knows nothing of tickets' storage, jobs or HTTP routing.
package sms
