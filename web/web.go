package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed pages/*.html static
var files embed.FS

// ContentSecurityPolicy is sent with every page and asset. Scripts and
// styles come from this origin only (no inline code anywhere), and the pages
// talk to this origin only: 'self' does not cover WebSockets in every
// browser, hence ws: and wss:, which the Origin check of the live streams
// narrows to this server again.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; font-src 'self'; connect-src 'self' ws: wss:; manifest-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes are set explicitly, not looked up in the system's MIME table,
// which differs between machines.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
}

// Cache policies: pages are revalidated on every load (they name the asset
// version); assets under the current version never change.
const (
	cacheRevalidate = "no-cache"
	cacheImmutable  = "public, max-age=31536000, immutable"
)

// asset is one file ready to serve.
type asset struct {
	name  string // for ServeContent, which does not guess the type: it is set
	ctype string
	body  []byte
	gz    []byte // nil when compressing does not pay
	etag  string
}

// Handler serves the pages and their assets.
type Handler struct {
	version string            // hash of every asset, the path segment after static/
	pages   map[string]*asset // by page name: phone, staff, board
	static  map[string]*asset // by path under static/
}

// pageRoutes maps each page route to the page it serves.
var pageRoutes = map[string]string{
	"/":               "phone",
	"/staff":          "staff",
	"/staff/insights": "insights",
	"/board/:id":      "board",
	"/calls/:id":      "calls", // the fairness log, for citizens
}

// workers maps each service worker's route to its file under static/. A
// worker is served at the site's root, not under static/<version>/, because
// its URL sets its scope: at the root it covers every page, and it stays the
// same from build to build, so that a deploy does not strand the push
// subscriptions made through the previous build's worker.
var workers = map[string]string{"/sw.js": "sw.js"}

// New loads the embedded files. It fails only on a broken build.
func New() (*Handler, error) {
	h := &Handler{pages: map[string]*asset{}, static: map[string]*asset{}}
	sum := sha256.New()
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		fmt.Fprintf(sum, "%s\x00%d\x00", name, len(body))
		sum.Write(body)
		a, err := newAsset(name, body)
		if err != nil {
			return err
		}
		h.static[name] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: load assets: %w", err)
	}
	h.version = hex.EncodeToString(sum.Sum(nil))[:12]
	for _, page := range pageRoutes {
		body, err := files.ReadFile("pages/" + page + ".html")
		if err != nil {
			return nil, fmt.Errorf("web: load page %s: %w", page, err)
		}
		// Pages name their assets through {{static}}, so that a new build's
		// assets get new URLs and may be cached for good.
		body = bytes.ReplaceAll(body, []byte("{{static}}"), []byte("static/"+h.version))
		if h.pages[page], err = newAsset(page+".html", body); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func newAsset(name string, body []byte) (*asset, error) {
	ctype, ok := contentTypes[path.Ext(name)]
	if !ok {
		return nil, fmt.Errorf("web: %s: no content type for %q", name, path.Ext(name))
	}
	sum := sha256.Sum256(body)
	a := &asset{name: name, ctype: ctype, body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	if ctype != "image/png" {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if b.Len() < len(body)*9/10 {
			a.gz = b.Bytes()
		}
	}
	return a, nil
}

// Version is the asset version in use: static/<version>/ in every page.
func (h *Handler) Version() string { return h.version }

// ServePage writes the named page (phone, staff or board); false, with
// nothing written, when there is no such page.
func (h *Handler) ServePage(w http.ResponseWriter, r *http.Request, page string) bool {
	a, ok := h.pages[page]
	if !ok {
		return false
	}
	h.serve(w, r, a, cacheRevalidate)
	return true
}

// ServeStatic writes the asset at p, a path under static/: "<version>/<file>".
// An asset asked for under another version (a page from an instance on
// another build, during a rolling deploy) is served all the same, since a
// close match beats a broken page, but not cached: that URL names other
// bytes. It returns false, with nothing written, when there is no such
// asset.
func (h *Handler) ServeStatic(w http.ResponseWriter, r *http.Request, p string) bool {
	version, name, ok := strings.Cut(p, "/")
	a := h.static[name]
	if !ok || a == nil || version == "" {
		return false
	}
	cache := cacheImmutable
	if version != h.version {
		cache = cacheRevalidate
	}
	h.serve(w, r, a, cache)
	return true
}

// ServeWorker writes the service worker at route (see workers), revalidated
// on every load like a page; false, with nothing written, when there is
// none.
func (h *Handler) ServeWorker(w http.ResponseWriter, r *http.Request, route string) bool {
	a := h.static[workers[route]]
	if a == nil {
		return false
	}
	h.serve(w, r, a, cacheRevalidate)
	return true
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, a *asset, cache string) {
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", cache)
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	hd.Set("Vary", "Accept-Encoding")
	body, etag := a.body, a.etag
	if a.gz != nil && acceptsGzip(r) {
		body, etag = a.gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", etag)
	// ServeContent answers If-None-Match and ranges from the ETag; a zero
	// time keeps Last-Modified out (embedded files have none).
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the request accepts gzip with a weight above
// zero.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}

// StaticFiles lists the asset names, sorted, for tests.
func (h *Handler) StaticFiles() []string {
	names := make([]string, 0, len(h.static))
	for n := range h.static {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
