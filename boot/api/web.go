package api

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed web
var webFS embed.FS

// pageCSP keeps the page to its own origin: no inline script, nothing
// from other hosts, no framing. Inline styles are allowed because
// xterm.js writes its theme and cell sizes into <style> elements; no
// script can be injected that way. connect-src 'self' covers the
// page's own WebSockets (ws: and wss: of the same host).
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// WebAssetsDir is where an image carries the page's viewers, noVNC and
// xterm.js (make web-assets fetches them from the npm registry, pinned;
// nucbox image build --web-assets copies them here). They are served
// under /static/vendor/; an image without them serves a page that says
// the viewers are not installed.
const WebAssetsDir = "/usr/share/nucbox/web"

// vendorFiles serves the files of dir, without directory listings; an
// empty or missing dir answers every request with 404.
func vendorFiles(dir string) http.Handler {
	if dir == "" {
		return http.NotFoundHandler()
	}
	fs := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		fs.ServeHTTP(w, r)
	})
}

func staticFiles() http.Handler {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.FileServerFS(sub)
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>nucbox: log in</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="login"><main>
<h1>nucbox</h1>
<form method="post" action="/login">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
<button type="submit">Log in</button>
{{if .}}<p class="error" role="alert">{{.}}</p>{{end}}
<p class="hint">The token is printed on the box's console when it is created, and stored in the state directory (api-token).</p>
</form></main></body></html>
`))

// handleIndex serves the status page, or the login form to a browser
// that may not read the status yet.
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if !s.currentAuth().PublicStatus && s.accessOf(r) < accessRead {
		s.writeLogin(w, http.StatusOK, "")
		return
	}
	b, err := webFS.ReadFile("web/index.html")
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

func (s *Server) writeLogin(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	loginPage.Execute(w, msg)
}

// handleLogin trades the token for the session cookie.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", pageCSP)
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	a := s.currentAuth()
	if err := r.ParseForm(); err != nil || !tokenMatches(r.PostForm.Get("token"), a.Token) {
		s.writeLogin(w, http.StatusUnauthorized, "That token is not right.")
		return
	}
	markAuthenticated(r.Context())
	value, err := s.sessions.create(a.key(), s.now(), a)
	if err != nil {
		s.writeLogin(w, http.StatusInternalServerError, "No session: "+err.Error())
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   int(a.sessionLifetime().Seconds()),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.remove(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
