package main

// The web app (pb_public) as this binary serves it. It exists because the
// app is built into the binary, so that one file is the whole deployment,
// and because its pages need stricter security headers than PocketBase
// gives the dashboard and the API.

import (
	"embed"
	"io/fs"
	"os"

	"github.com/pocketbase/pocketbase/core"
)

//go:embed all:pb_public
var embedded embed.FS

// publicFS is the web app: dir when given, else the embedded copy.
func publicFS(dir string) (fs.FS, error) {
	if dir != "" {
		return os.DirFS(dir), nil
	}
	return fs.Sub(embedded, "pb_public")
}

// contentSecurityPolicy lets the web app load only its own scripts,
// styles and API, with no inline script or style; user photos come from
// the API (same origin) or are previewed from blob: URLs before upload.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// appPageHeaders sets the web app's security headers. The dashboard (/_/)
// and the API keep PocketBase's own.
func appPageHeaders(e *core.RequestEvent) error {
	h := e.Response.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	return e.Next()
}
