package hub

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// OriginAllowed reports whether a browser page from the request's Origin
// may open a live stream: no Origin (not a browser), the server's own
// origin, or one that OriginMatches.
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
	return OriginMatches(origin, allowed)
}

// OriginMatches reports whether origin is one of the allowed origins
// (ALLOWED_ORIGINS), the one rule for CORS and live streams alike. An
// allowed entry is a full origin ("https://board.example.org", compared
// without case or a trailing slash), a host pattern ("*.example.org",
// matched with path.Match against the origin's host, any scheme), or "*"
// for any.
func OriginMatches(origin string, allowed []string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	host := strings.ToLower(u.Host)
	full := strings.ToLower(u.Scheme) + "://" + host
	for _, a := range allowed {
		a = strings.TrimRight(strings.ToLower(strings.TrimSpace(a)), "/")
		switch {
		case a == "*":
			return true
		case strings.Contains(a, "://"):
			if a == full {
				return true
			}
		default:
			if ok, _ := path.Match(a, host); ok {
				return true
			}
		}
	}
	return false
}
