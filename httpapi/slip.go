package httpapi

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"
	qrcode "github.com/skip2/go-qrcode"
)

// The printable slip of a ticket (GET /t/{ticket_id}): what a counter or a
// kiosk prints for a walk-in. One narrow column that fits an 80 mm receipt
// printer (72 mm of print width) and prints as well, centred, on A4.

var slipTemplate = template.Must(template.New("slip").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ticket {{.Label}} · {{.Office}}</title>
<style>
  @page { size: auto; margin: 4mm; }
  html { font-family: system-ui, sans-serif; color: #000; background: #fff; }
  body { margin: 0 auto; width: 72mm; padding: 4mm 0; text-align: center; }
  h1 { font-size: 5mm; margin: 0 0 2mm; }
  .service { font-size: 4.2mm; margin: 0; }
  .label { font-size: 16mm; font-weight: 800; letter-spacing: .5mm; margin: 2mm 0; }
  .time, .hint, .url { font-size: 3.4mm; margin: 1mm 0; }
  .url { word-break: break-all; }
  img { width: 40mm; height: 40mm; image-rendering: pixelated; margin: 2mm auto; display: block; }
  @media print and (min-width: 150mm) { body { width: 90mm; padding-top: 20mm; } .label { font-size: 20mm; } img { width: 55mm; height: 55mm; } }
</style>
</head>
<body>
<h1>{{.Office}}</h1>
<p class="service">{{.ServiceCode}} · {{.Service}}</p>
<p class="label" data-label>{{.Label}}</p>
<p class="time">{{.Issued}}{{if .Priority}} · priority: {{.Priority}}{{end}}</p>
<img alt="QR code of this ticket's page" src="{{.QR}}" data-qr>
<p class="hint">Scan to follow your turn live on your phone.</p>
<p class="url">{{.URL}}</p>
</body>
</html>
`))

type slipData struct {
	Office, Service, ServiceCode, Label, Issued, Priority, URL string
	QR                                                         template.URL
}

// PhonePageURL is the phone page's link that follows ticket id.
func PhonePageURL(scheme, host, id string) string {
	return fmt.Sprintf("%s://%s/?ticket=%s", scheme, host, id)
}

func (s *Server) slip(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := s.q.Ticket(ctx, id)
	if err != nil {
		return err
	}
	inst, err := s.q.Institution(ctx, t.InstitutionID)
	if err != nil {
		return err
	}
	d := slipData{Office: inst.Name, ServiceCode: t.Service, Label: t.Label,
		Issued: slipTime(t.IssuedAt, inst.Location()), URL: PhonePageURL(c.Scheme(), c.Request().Host, t.ID)}
	for _, l := range inst.Services {
		if l.Code == t.Service {
			d.Service = l.Name
		}
	}
	if t.Priority != nil {
		d.Priority = string(*t.Priority)
	}
	png, err := qrcode.Encode(d.URL, qrcode.Medium, 256)
	if err != nil {
		return fmt.Errorf("slip of ticket %s: QR code: %w", id, err)
	}
	d.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	var buf bytes.Buffer
	if err := slipTemplate.Execute(&buf, d); err != nil {
		return fmt.Errorf("slip of ticket %s: %w", id, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}
