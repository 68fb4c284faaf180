package sms

import "fmt"

// Ticket is what a text says about a ticket.
type Ticket struct {
	Office  string  // the institution's name
	Name    string  // queue.DisplayName: the number, the label once services exist
	Counter *string // the counter that called it
	Link    string  // the ticket's phone page
}

// Text is the text for a notification event, short enough for one or two
// SMS segments; "" for events that send no text.
func Text(event string, t Ticket) string {
	switch event {
	case "verify":
		return "" // see VerifyText
	case "near_turn":
		return fmt.Sprintf("%s: ticket %s, your turn is near. Please come to the office. %s", t.Office, t.Name, t.Link)
	case "turn_called":
		if t.Counter != nil {
			return fmt.Sprintf("%s: ticket %s, it's your turn! Go to counter %s now. %s", t.Office, t.Name, *t.Counter, t.Link)
		}
		return fmt.Sprintf("%s: ticket %s, it's your turn! Go to the counter now. %s", t.Office, t.Name, t.Link)
	case "expired":
		return fmt.Sprintf("%s: ticket %s expired: you were called but did not check in. %s", t.Office, t.Name, t.Link)
	}
	return ""
}

// VerifyText is the first text to a number: its code.
func VerifyText(office, code string) string {
	return fmt.Sprintf("%s: your QueueLess code is %s. Enter it on the ticket page to get texts. Reply STOP to opt out.", office, code)
}

// HelpText answers a reply that is no command.
const HelpText = "QueueLess: reply STATUS for your place, LATER to move back 3 places, CANCEL to leave the queue, STOP for no more texts, START to get them again."
