package httpapi

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// cors answers cross-origin requests from the allowed origins only. Origins
// are compared exactly (scheme, host and port), never as patterns: echo's
// AllowOrigins would read "*" and subdomain forms as wildcards. Bearer
// tokens, not cookies, carry credentials, so credentials are not allowed.
func cors(origins []string) echo.MiddlewareFunc {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[normalOrigin(o)] = true
	}
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOriginFunc: func(origin string) (bool, error) { return allowed[normalOrigin(origin)], nil },
		AllowMethods:    []string{http.MethodGet, http.MethodPost, http.MethodPatch},
		AllowHeaders:    []string{echo.HeaderContentType, echo.HeaderAuthorization, "Idempotency-Key", headerRequestID},
		ExposeHeaders: []string{headerRequestID, "Retry-After",
			"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
		MaxAge: 600,
	})
}

// normalOrigin is an origin as browsers send it: lower case, no trailing
// slash.
func normalOrigin(o string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
}
