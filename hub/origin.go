package hub

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// OriginAllowed reports whether a browser page from the request's Origin
// may open a live stream: no Origin (not a browser), the server's own
// origin, or one of the allowed origins. An allowed entry is a full origin
// ("https://board.example.org"), a host pattern ("*.example.org", matched
// with path.Match), or "*" for any.
func OriginAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range allowed {
		a = strings.TrimRight(strings.ToLower(strings.TrimSpace(a)), "/")
		switch {
		case a == "*":
			return true
		case strings.Contains(a, "://"):
			if a == strings.ToLower(u.Scheme+"://"+u.Host) {
				return true
			}
		default:
			if ok, _ := path.Match(a, strings.ToLower(u.Host)); ok {
				return true
			}
		}
	}
	return false
}
