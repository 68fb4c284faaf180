package web_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/web"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	e := echo.New()
	if err := web.Register(e); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, srv *httptest.Server, p string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+p, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without this the transport asks for gzip itself and hides the encoding.
	req.Header.Set("Accept-Encoding", "identity")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: gzip: %v", p, err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

var pagePaths = map[string]string{"phone": "/", "staff": "/staff", "board": "/board/12", "calls": "/calls/12", "insights": "/staff/insights"}

func TestPagesAreServedWithTypeCSPAndCache(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for page, p := range pagePaths {
		t.Run(page, func(t *testing.T) {
			r := get(t, srv, p, nil)
			if r.status != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200", p, r.status)
			}
			if got, want := r.header.Get("Content-Type"), "text/html; charset=utf-8"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if got, want := r.header.Get("Cache-Control"), "no-cache"; got != want {
				t.Errorf("Cache-Control = %q, want %q: a page names its assets' version and must be revalidated", got, want)
			}
			csp := r.header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self' ws: wss:", "frame-ancestors 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("Content-Security-Policy %q allows inline code", csp)
			}
			if r.header.Get("ETag") == "" {
				t.Error("no ETag")
			}
			if !strings.Contains(r.body, `<html lang="en"`) || !strings.Contains(r.body, `name="viewport"`) {
				t.Error("page lacks a language or a viewport")
			}
			if strings.Contains(r.body, "{{static}}") {
				t.Error("page still holds the {{static}} placeholder")
			}
		})
	}
}

// The CSP forbids inline code: a page that had some would break in the
// browser, silently.
func TestPagesHaveNoInlineCode(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	handler := regexp.MustCompile(`\son[a-z]+\s*=`)
	styleAttr := regexp.MustCompile(`\sstyle\s*=`)
	for page, p := range pagePaths {
		body := get(t, srv, p, nil).body
		if inlineScript.MatchString(body) {
			t.Errorf("%s: inline <script>", page)
		}
		if strings.Contains(body, "<style") {
			t.Errorf("%s: inline <style>", page)
		}
		if handler.MatchString(body) {
			t.Errorf("%s: inline event handler attribute", page)
		}
		if styleAttr.MatchString(body) {
			t.Errorf("%s: style attribute", page)
		}
	}
	h, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range h.StaticFiles() {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		body := get(t, srv, "/static/"+h.Version()+"/"+name, nil).body
		// innerHTML would also open the pages to markup in names and
		// announcements; eval is blocked by the CSP anyway.
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'"} {
			if strings.Contains(body, bad) {
				t.Errorf("static/%s uses %s", name, bad)
			}
		}
	}
}

var (
	htmlRef   = regexp.MustCompile(`(?:src|href)="([^"#]+)"`)
	jsImport  = regexp.MustCompile(`(?m)^\s*import\s[^'"]*['"]([^'"]+)['"]`)
	cssURL    = regexp.MustCompile(`url\(\s*['"]?([^'")]+)['"]?\s*\)`)
	typeOfExt = map[string]string{
		".js":  "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8",
		".svg": "image/svg+xml",
		".png": "image/png",
	}
)

// Every asset a page names, and every module a script imports, is served
// with its type and cached for good under the current version.
func TestReferencedAssetsExist(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	h, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(srv.URL)
	seen := map[string]bool{}
	var queue []string
	for _, p := range pagePaths {
		pageURL := base.ResolveReference(&url.URL{Path: p})
		body := get(t, srv, p, nil).body
		refs := htmlRef.FindAllStringSubmatch(body, -1)
		if len(refs) < 3 {
			t.Errorf("%s names only %d assets", p, len(refs))
		}
		for _, m := range refs {
			u, err := pageURL.Parse(m[1])
			if err != nil {
				t.Errorf("%s: bad reference %q", p, m[1])
				continue
			}
			if u.Host != base.Host {
				t.Errorf("%s: %q is not on this origin (the CSP would block it)", p, m[1])
				continue
			}
			if u.Path == "/" || u.Path == "/staff" || u.Path == "/staff/insights" { // links between pages
				continue
			}
			if !strings.HasPrefix(u.Path, "/static/"+h.Version()+"/") {
				t.Errorf("%s: %q is not under the versioned static path", p, m[1])
			}
			queue = append(queue, u.Path)
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		r := get(t, srv, p, nil)
		if r.status != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", p, r.status)
			continue
		}
		if got, want := r.header.Get("Content-Type"), typeOfExt[path.Ext(p)]; got != want {
			t.Errorf("GET %s: Content-Type = %q, want %q", p, got, want)
		}
		if got, want := r.header.Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
			t.Errorf("GET %s: Cache-Control = %q, want %q", p, got, want)
		}
		var refs [][]string
		switch path.Ext(p) {
		case ".js":
			refs = jsImport.FindAllStringSubmatch(r.body, -1)
		case ".css":
			refs = cssURL.FindAllStringSubmatch(r.body, -1)
		}
		for _, m := range refs {
			if strings.HasPrefix(m[1], "data:") {
				continue
			}
			if !strings.HasPrefix(m[1], "./") {
				t.Errorf("%s: %q: imports must be relative (./x.js), to stay on this version", p, m[1])
				continue
			}
			queue = append(queue, path.Join(path.Dir(p), m[1]))
		}
	}
	// A service worker is registered from a script, not named by a tag: it
	// is served at the root (its URL sets its scope), revalidated like a
	// page, and some script registers it there.
	for route, name := range map[string]string{"/sw.js": "sw.js"} {
		r := get(t, srv, route, nil)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != typeOfExt[".js"] || r.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: %d %q %q, want 200, JavaScript, no-cache", route, r.status, r.header.Get("Content-Type"), r.header.Get("Cache-Control"))
		}
		registered := false
		for p := range seen {
			if path.Ext(p) == ".js" && regexp.MustCompile(`serviceWorker\.register\(\s*pageURL\('`+regexp.QuoteMeta(strings.TrimPrefix(route, "/"))+`'\)`).MatchString(get(t, srv, p, nil).body) {
				registered = true
			}
		}
		if !registered {
			t.Errorf("no page's script registers the service worker %s", route)
		}
		seen["/static/"+h.Version()+"/"+name] = true
	}
	// Every embedded asset is used by some page, and none is missed above.
	for _, name := range h.StaticFiles() {
		if !seen["/static/"+h.Version()+"/"+name] {
			t.Errorf("static/%s is embedded but no page uses it", name)
		}
	}
}

func TestStaticCachingAndEncoding(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	h, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	current := "/static/" + h.Version() + "/phone.js"

	r := get(t, srv, current, map[string]string{"Accept-Encoding": "gzip, br"})
	if r.status != http.StatusOK || r.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("GET %s with gzip: status %d, encoding %q; want 200 gzip", current, r.status, r.header.Get("Content-Encoding"))
	}
	if !strings.Contains(r.header.Get("Vary"), "Accept-Encoding") {
		t.Error("gzip response without Vary: Accept-Encoding")
	}
	plain := get(t, srv, current, nil)
	if plain.header.Get("Content-Encoding") != "" || plain.body != r.body {
		t.Error("identity and gzip bodies differ")
	}
	if r.header.Get("ETag") == plain.header.Get("ETag") {
		t.Error("gzip and identity responses share an ETag")
	}
	if r := get(t, srv, current, map[string]string{"Accept-Encoding": "gzip;q=0"}); r.header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 got gzip")
	}

	// Revalidation.
	nm := get(t, srv, "/", map[string]string{"If-None-Match": get(t, srv, "/", nil).header.Get("ETag")})
	if nm.status != http.StatusNotModified {
		t.Errorf("If-None-Match on / : status %d, want 304", nm.status)
	}

	// An asset asked for under another build's version (rolling deploy) is
	// served but not cached for good.
	old := get(t, srv, "/static/0123456789ab/phone.js", nil)
	if old.status != http.StatusOK || old.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("other version: status %d, Cache-Control %q; want 200 no-cache", old.status, old.header.Get("Cache-Control"))
	}
}

func TestUnknownPathsAndRedirects(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for _, p := range []string{"/board/0", "/board/abc", "/board/-1", "/board/01", "/static/x/nope.js", "/static/", "/static/phone.js", "/staffx"} {
		if r := get(t, srv, p, nil); r.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, r.status)
		}
	}
	for p, want := range map[string]string{"/staff/": "../staff", "/board/7/": "../7"} {
		r := get(t, srv, p, nil)
		if r.status != http.StatusMovedPermanently || r.header.Get("Location") != want {
			t.Errorf("GET %s: %d Location %q, want 301 %q", p, r.status, r.header.Get("Location"), want)
		}
	}
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/staff", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("HEAD /staff: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// The pages must work behind a load balancer, under any path prefix: no
// absolute URL to this server in any page or script.
func TestPagesUseRelativeURLs(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	h, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	absolute := regexp.MustCompile(`(?:src|href)="/|fetch\(\s*['"` + "`" + `]/|['"` + "`" + `]/api/|wss?://`)
	var bodies []string
	for _, p := range pagePaths {
		bodies = append(bodies, get(t, srv, p, nil).body)
	}
	for _, name := range h.StaticFiles() {
		if strings.HasSuffix(name, ".js") {
			bodies = append(bodies, get(t, srv, "/static/"+h.Version()+"/"+name, nil).body)
		}
	}
	for i, b := range bodies {
		if m := absolute.FindString(b); m != "" {
			t.Errorf("body %d has an absolute URL: %q", i, m)
		}
	}
	if !slices.Contains(h.StaticFiles(), "api.js") {
		t.Error("no api.js")
	}
}
