package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// access is what a request may do.
type access int

const (
	accessNone  access = iota
	accessRead         // status, logs, metrics: the web page's cookie
	accessAdmin        // everything: the unix socket or the bearer token
)

// sessionCookie is the web page's login cookie.
const sessionCookie = "nucbox_session"

type localKey struct{}

// withLocal marks a request context as coming through the unix socket,
// whose permissions already authenticated it.
func withLocal(ctx context.Context) context.Context {
	return context.WithValue(ctx, localKey{}, true)
}

func isLocal(ctx context.Context) bool {
	v, _ := ctx.Value(localKey{}).(bool)
	return v
}

// tokenMatches compares a presented secret with the expected one in
// constant time. Both are hashed first so that neither the content nor
// the length of the expected value leaks through timing.
func tokenMatches(got, want string) bool {
	if want == "" {
		return false
	}
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// sessionValue is the cookie value for a token: a MAC of a fixed label,
// so the cookie store never holds the token and changing the token ends
// every session.
func sessionValue(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("nucbox web session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// accessOf decides what r may do.
func (s *Server) accessOf(r *http.Request) access {
	if isLocal(r.Context()) {
		return accessAdmin
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") && tokenMatches(strings.TrimSpace(tok), s.token) {
			return accessAdmin
		}
		// A wrong token is not silently downgraded to the cookie.
		return accessNone
	}
	if tok, ok := webSocketBearer(r); ok {
		if tokenMatches(tok, s.token) {
			return accessAdmin
		}
		return accessNone
	}
	if c, err := r.Cookie(sessionCookie); err == nil && s.token != "" && tokenMatches(c.Value, sessionValue(s.token)) {
		return accessRead
	}
	return accessNone
}

// need wraps h so that it runs only with at least level; public opens it
// to everyone (api.public-status for the read-only status). A request
// that carries valid credentials marks its connection authenticated for
// the connection caps; only a request past the check gets its body's
// deadline extended or cleared (kind).
func (s *Server) need(level access, public bool, kind body, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := s.accessOf(r)
		if a > accessNone {
			markAuthenticated(r.Context())
		}
		if !public && a < level {
			if a > accessNone {
				// Known, but the page's login only reads.
				writeError(w, http.StatusForbidden, "this needs the API token itself: the web page's login only reads")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="nucbox"`)
			writeError(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer TOKEN (the token is printed on the box's console at first boot)")
			return
		}
		s.setDeadline(w, r, kind)
		h(w, r)
	}
}
