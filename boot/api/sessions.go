package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"
)

// Default web login lifetimes, for a Server whose Auth leaves them zero.
// A box takes its own from the config (api.session-lifetime,
// api.session-idle), whose defaults are the same.
const (
	DefaultSessionLifetime = 12 * time.Hour
	DefaultSessionIdle     = time.Hour
)

// maxSessions bounds the logins kept at once. Only someone with the token
// can make one, so the bound is against a script that logs in in a loop,
// not against strangers; the least recently used session goes first.
const maxSessions = 256

// sessions are the web page's logins. A session is a random value in the
// cookie and its record here: when it was made, when it was last used and
// which token it was made with. Nothing in the cookie is derived from the
// token, and a session ends at its lifetime, after its idle time, at
// logout, when the token changes, and when PID 1 restarts.
type sessions struct {
	mu sync.Mutex
	m  map[[32]byte]*session // by the SHA-256 of the cookie value
}

type session struct {
	key     [32]byte // SHA-256 of the token it was made with
	created time.Time
	seen    time.Time
}

func sessionID(value string) [32]byte { return sha256.Sum256([]byte(value)) }

// create makes a session for the token whose hash is key and returns the
// cookie value.
func (ss *sessions) create(key [32]byte, now time.Time, a *Auth) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	value := hex.EncodeToString(b[:])
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[[32]byte]*session{}
	}
	if len(ss.m) >= maxSessions {
		ss.evict(now, a)
	}
	ss.m[sessionID(value)] = &session{key: key, created: now, seen: now}
	return value, nil
}

// evict drops the expired sessions, and the least recently used one when
// none was.
func (ss *sessions) evict(now time.Time, a *Auth) {
	var oldest [32]byte
	var oldestSeen time.Time
	n := len(ss.m)
	for id, s := range ss.m {
		if !s.live(now, a) {
			delete(ss.m, id)
			continue
		}
		if oldestSeen.IsZero() || s.seen.Before(oldestSeen) {
			oldest, oldestSeen = id, s.seen
		}
	}
	if len(ss.m) == n {
		delete(ss.m, oldest)
	}
}

// live tells whether s is within its lifetime and idle time.
func (s *session) live(now time.Time, a *Auth) bool {
	return now.Sub(s.created) < a.sessionLifetime() && now.Sub(s.seen) < a.sessionIdle()
}

// use reports whether value is a live session of the token whose hash is
// key, and counts the use against its idle time. A session that is over,
// or belongs to another token, is forgotten.
func (ss *sessions) use(value string, key [32]byte, now time.Time, a *Auth) bool {
	id := sessionID(value)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return false
	}
	if subtle.ConstantTimeCompare(s.key[:], key[:]) != 1 || !s.live(now, a) {
		delete(ss.m, id)
		return false
	}
	s.seen = now
	return true
}

// remove ends the session of value (logout).
func (ss *sessions) remove(value string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, sessionID(value))
}

// keepOnly ends every session not made with the token whose hash is key.
func (ss *sessions) keepOnly(key [32]byte) (ended int) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, s := range ss.m {
		if subtle.ConstantTimeCompare(s.key[:], key[:]) != 1 {
			delete(ss.m, id)
			ended++
		}
	}
	return ended
}

func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}
