package httpapi

import (
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/notify"
	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/sms"
	"github.com/queueless/queueless/webhooks"
)

// InboundSMS says how inbound texts are signed (API.md v1.1, "Replies").
type InboundSMS struct {
	Gateway     string // twilio or http; "": inbound texts are refused
	TwilioToken string // the auth token Twilio signs with
	HTTPSecret  string // SMS_HTTP_SECRET
	CountryCode string // of local numbers, e.g. "63"
	// PublicURL, when set, is the site's address as the gateway calls it
	// (Twilio signs the URL it requested); else the request's Host.
	PublicURL string
}

// MountNotify adds the notification routes: phone verification, inbound
// texts, web push, and the text states of the phone page and the console.
// GET .../notifications gains each notification's deliveries.
func (s *Server) MountNotify(svc *notify.Service, in InboundSMS) {
	h := &notifyAPI{s: s, svc: svc, in: in}
	s.notify = svc
	v1 := s.e.Group("/api/v1")
	v1.POST("/tickets/:ticket_id/verify-phone", h.verifyPhone)
	v1.GET("/tickets/:ticket_id/texts", h.ticketTexts)
	v1.POST("/tickets/:ticket_id/push", h.subscribe)
	v1.GET("/push/key", h.pushKey)
	v1.POST("/sms/inbound", h.inbound)
	v1.GET("/institutions/:id/texts", h.staffTexts, s.authn)
}

type notifyAPI struct {
	s   *Server
	svc *notify.Service
	in  InboundSMS
}

func (h *notifyAPI) verifyPhone(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	var b struct {
		Code string `json:"code"`
	}
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	v, err := h.svc.VerifyPhone(c.Request().Context(), id, b.Code)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (h *notifyAPI) ticketTexts(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	t, err := h.s.q.Ticket(c.Request().Context(), id)
	if err != nil {
		return err
	}
	list, err := h.svc.Texts(c.Request().Context(), []queue.Ticket{t}, false)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list[0])
}

func (h *notifyAPI) staffTexts(c echo.Context) error {
	id, err := h.s.managedID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	list, _, err := h.s.q.StaffTickets(ctx, id, []queue.TicketStatus{queue.TicketWaiting, queue.TicketNotified, queue.TicketServing}, 0, 500)
	if err != nil {
		return err
	}
	tickets := make([]queue.Ticket, len(list))
	for i, t := range list {
		tickets[i] = t.Ticket
		tickets[i].Phone = t.Phone
	}
	states, err := h.svc.Texts(ctx, tickets, true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": states})
}

func (h *notifyAPI) pushKey(c echo.Context) error {
	k := h.svc.PushKey()
	if k == "" {
		return queue.Errorf(queue.CodeNotFound, "web push is not configured on this server")
	}
	return c.JSON(http.StatusOK, map[string]string{"public_key": k})
}

func (h *notifyAPI) subscribe(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	body, err := requestBody(c)
	if err != nil {
		return err
	}
	if body == nil {
		return invalid("the body must be the browser's PushSubscription JSON")
	}
	if err := h.svc.Subscribe(c.Request().Context(), id, body); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"ticket_id": id, "subscribed": true})
}

// inbound takes a gateway's inbound text: Twilio's signed form post, or
// the http gateway's signed JSON. A bad or missing signature is 401.
func (h *notifyAPI) inbound(c echo.Context) error {
	r := c.Request()
	raw, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, MaxBodyBytes))
	if err != nil {
		return tooLarge()
	}
	var from, body, msgID string
	switch h.in.Gateway {
	case "twilio":
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return invalid("the body must be a form")
		}
		if !sms.ValidTwilioSignature(h.in.TwilioToken, h.fullURL(r), form, r.Header.Get("X-Twilio-Signature")) {
			return queue.Errorf(queue.CodeUnauthorized, "X-Twilio-Signature is missing or wrong")
		}
		from, body, msgID = sms.Local(form.Get("From"), h.in.CountryCode), form.Get("Body"), form.Get("MessageSid")
	case "http":
		if !webhooks.Verify(h.in.HTTPSecret, raw, r.Header.Get(webhooks.HeaderSignature)) {
			return queue.Errorf(queue.CodeUnauthorized, "%s is missing or wrong", webhooks.HeaderSignature)
		}
		var b struct {
			From string `json:"from"`
			Body string `json:"body"`
			ID   string `json:"id"`
		}
		if err := decodeJSON(raw, &b); err != nil {
			return err
		}
		from, body, msgID = b.From, b.Body, b.ID
	default:
		return queue.Errorf(queue.CodeNotFound, "no SMS gateway is configured on this server")
	}
	if !queue.ValidPhone(from) {
		return invalid("from must be a local number, 0 and 10 digits")
	}
	if msgID == "" {
		msgID = requestID(c)
	}
	reply, err := h.svc.Inbound(r.Context(), from, body, msgID, requestID(c))
	if err != nil {
		return err
	}
	if h.in.Gateway == "twilio" {
		// The answer goes out as a text of its own (a job, retried);
		// Twilio gets an empty TwiML response.
		return c.Blob(http.StatusOK, "text/xml", []byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
	}
	return c.JSON(http.StatusOK, map[string]string{"reply": reply})
}

// fullURL is the URL the gateway requested, as it signed it.
func (h *notifyAPI) fullURL(r *http.Request) string {
	if h.in.PublicURL != "" {
		return strings.TrimRight(h.in.PublicURL, "/") + r.URL.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// staffView reports whether the request carries a token that may manage
// institution id: staff see deliveries' attempts and errors.
func (s *Server) staffView(c echo.Context, id int64) bool {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	p, err := s.auth.Authenticate(c.Request().Context(), strings.TrimSpace(token))
	return err == nil && p.CanManage(id) == nil
}

// notificationViews adds deliveries to a ticket's notifications when
// notify is mounted.
func (s *Server) notificationViews(c echo.Context, id string, list []queue.Notification) (any, error) {
	if s.notify == nil {
		return list, nil
	}
	staff := false
	if c.Request().Header.Get(echo.HeaderAuthorization) != "" {
		if t, err := s.q.Ticket(c.Request().Context(), id); err == nil {
			staff = s.staffView(c, t.InstitutionID)
		}
	}
	return s.notify.Notifications(c.Request().Context(), id, list, staff)
}
