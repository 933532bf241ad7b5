package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
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

// accessOf decides what r may do.
func (s *Server) accessOf(r *http.Request) access {
	a, _ := s.credential(r)
	return a
}

// credential decides what r may do and, for a request let in by the
// token or a session made with it, returns the current auth, whose token
// it was: a stream opened with it ends when that token is replaced.
func (s *Server) credential(r *http.Request) (access, *Auth) {
	if isLocal(r.Context()) {
		return accessAdmin, nil
	}
	a := s.currentAuth()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") && tokenMatches(strings.TrimSpace(tok), a.Token) {
			return accessAdmin, a
		}
		// A wrong token is not silently downgraded to the cookie.
		return accessNone, nil
	}
	if tok, ok := webSocketBearer(r); ok {
		if tokenMatches(tok, a.Token) {
			return accessAdmin, a
		}
		return accessNone, nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil && a.Token != "" && s.sessions.use(c.Value, a.key(), s.now(), a) {
		return accessRead, a
	}
	return accessNone, nil
}

// need wraps h so that it runs only with at least level; public opens it
// to everyone while api.public-status is on (the read-only status). A request
// that carries valid credentials marks its connection authenticated for
// the connection caps; only a request past the check gets its body's
// deadline extended or cleared (kind).
func (s *Server) need(level access, public bool, kind body, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, by := s.credential(r)
		if a > accessNone {
			markAuthenticated(r.Context())
		}
		if !(public && s.currentAuth().PublicStatus) && a < level {
			if a > accessNone {
				// Known, but the page's login only reads.
				writeError(w, http.StatusForbidden, "this needs the API token itself: the web page's login only reads")
				return
			}
			unauthorized(w)
			return
		}
		if s.setDeadline(w, r, kind) == bodyStream && by != nil {
			// A stream outlives its request's check: it is ended when
			// the token it was opened with is replaced.
			ctx, end, ok := s.openStream(r, by)
			if !ok {
				unauthorized(w)
				return
			}
			defer end()
			r = r.WithContext(ctx)
		}
		h(w, r)
	}
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="nucbox"`)
	writeError(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer TOKEN (the token is printed on the box's console at first boot)")
}
