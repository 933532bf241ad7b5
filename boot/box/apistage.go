package box

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config/plan"
)

// apiStage applies the config's api section to the running server:
// StartAPI starts the server with the config read at boot, before any
// stage runs, and this stage brings it to each config applied after,
// live. A new token takes effect at the next request and ends the web
// logins and streams of the old one; a new listen address is bound
// before the old listener closes, and when it cannot be bound the old
// one stays and the apply fails with the reason (and goes back to the
// previous config, whose address is the one still served).
type apiStage struct {
	b *Box

	mu  sync.Mutex
	srv *api.Server // nil until StartAPI
	// listen is the address applied last, served or not: an address that
	// failed to bind at boot is not retried by every apply of the same
	// config (the failure is in the log), only by one that changes it.
	listen string
	tcp    *apiListener // nil without a TCP listener
}

// apiListener is the API's TCP listener.
type apiListener struct {
	addr    string
	l       net.Listener
	closing atomic.Bool // closed on purpose: its Serve's error is expected
}

func (*apiStage) Name() string { return plan.StageAPI }

// apiWant is what the API serves with: the compiled config's API part and
// the state directory and host name its token and certificate come from.
type apiWant struct {
	plan.API
	stateDir, hostname string
}

func wantOf(d *plan.Desired) apiWant {
	return apiWant{API: d.API, stateDir: d.StateDir, hostname: d.Hostname}
}

// start serves the API for the first time: the socket always, TCP when
// want has an address. Failures are logged; the box runs on without TCP.
func (st *apiStage) start(srv *api.Server, want apiWant) {
	log := st.b.logger("api: ")
	st.mu.Lock()
	defer st.mu.Unlock()
	st.srv = srv
	st.b.goLoop("api", func() {
		if err := srv.ServeUnix(want.Socket); err != nil {
			log.Printf("%s: %v", want.Socket, err)
		}
	})
	st.listen = want.Listen
	if want.Listen == "" {
		return
	}
	t, err := st.b.prepareTLS(want)
	if err == nil {
		srv.SetAuth(authOf(want, t.token))
		err = st.serveTCP(want.Listen, t)
	}
	if err != nil {
		log.Printf("not listening on %s: %v", want.Listen, err)
	}
}

// Apply brings the server to d's api section.
func (st *apiStage) Apply(ctx context.Context, d *plan.Desired) error {
	want := wantOf(d)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.srv == nil {
		return nil // no API served (tests; PID 1 starts it before applying)
	}
	if want.Listen == "" {
		if st.tcp != nil {
			st.b.logger("api: ").Printf("no longer listening on %s (api.listen removed)", st.tcp.addr)
			st.closeTCP()
		}
		st.listen = ""
		st.srv.SetAuth(authOf(want, ""))
		return nil
	}
	t, err := st.b.prepareTLS(want)
	if err != nil {
		if want.Listen == st.listen {
			// Nothing asked to move: a box whose state directory fails
			// keeps what it serves rather than failing its boot or the
			// apply over the API.
			st.b.logger("api: ").Printf("%s: %v; the API keeps its listener and token", want.Listen, err)
			return nil
		}
		return fmt.Errorf("api.listen %s: %w", want.Listen, err)
	}
	if want.Listen != st.listen {
		old := st.tcp
		if err := st.serveTCP(want.Listen, t); err != nil {
			if old != nil {
				return fmt.Errorf("api.listen %s: %w (still listening on %s)", want.Listen, err, old.addr)
			}
			return fmt.Errorf("api.listen %s: %w", want.Listen, err)
		}
		if old != nil {
			old.closing.Store(true)
			old.l.Close()
			st.b.logger("api: ").Printf("no longer listening on %s", old.addr)
		}
		st.listen = want.Listen
	}
	st.srv.SetAuth(authOf(want, t.token))
	return nil
}

func authOf(want apiWant, token string) api.Auth {
	return api.Auth{Token: token, PublicStatus: want.PublicStatus,
		SessionLifetime: want.SessionLifetime.Std(), SessionIdle: want.SessionIdle.Std()}
}

// serveTCP binds addr and serves TLS on it, replacing st.tcp; the caller
// closes the one it replaced once this returned. Binding is synchronous,
// so its error is the caller's.
func (st *apiStage) serveTCP(addr string, t *tlsSetup) error {
	l, err := api.Listen(addr)
	if err != nil {
		return err
	}
	al := &apiListener{addr: addr, l: l}
	st.tcp = al
	srv, log := st.srv, st.b.logger("api: ")
	st.b.goLoop("api", func() {
		if err := srv.ServeTLSListener(l, t.cert); err != nil && !al.closing.Load() {
			log.Printf("%s: %v", addr, err)
		}
	})
	log.Printf("listening on %s (TLS, certificate SHA-256 %s)", addr, t.fingerprint)
	return nil
}

func (st *apiStage) closeTCP() {
	if st.tcp != nil {
		st.tcp.closing.Store(true)
		st.tcp.l.Close()
		st.tcp = nil
	}
}
