package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/queueless/queueless/hub"
)

// cors answers cross-origin requests from the allowed origins only, as
// hub.OriginMatches reads ALLOWED_ORIGINS for the live streams too: exact
// origins, host patterns, "*". Bearer tokens, not cookies, carry
// credentials, so credentials are not allowed.
func cors(origins []string) echo.MiddlewareFunc {
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOriginFunc: func(origin string) (bool, error) { return hub.OriginMatches(origin, origins), nil },
		AllowMethods:    []string{http.MethodGet, http.MethodPost, http.MethodPatch},
		AllowHeaders:    []string{echo.HeaderContentType, echo.HeaderAuthorization, "Idempotency-Key", headerRequestID},
		ExposeHeaders: []string{headerRequestID, "Retry-After",
			"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
		MaxAge: 600,
	})
}
