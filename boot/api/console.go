package api

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nucbox/nucbox/internal/safe"
)

// ConsoleProtocol is the Upgrade token of GET /v1/console/{name}: after
// the 101 answer the connection carries the VM's serial console as raw
// bytes, the guest's output from the box and typed input to it.
const ConsoleProtocol = "nucbox-console"

// Consoler is implemented by a Box whose VMs' serial consoles can be
// used interactively. A Box without it answers the console endpoint with
// 501.
type Consoler interface {
	// Console opens the named VM's serial console: reads return its
	// output from now on, writes are typed into it, Close ends the
	// session (the VM runs on). It returns ErrNoWorkload for a name that
	// is not a VM, ErrNotRunning when the VM has no running QEMU.
	Console(name string) (io.ReadWriteCloser, error)
}

// ErrNotRunning is returned for a console of a VM that does not run; the
// API answers it with 409.
var ErrNotRunning = errors.New("the VM is not running")

// handleConsole upgrades the connection to the VM's console. The request
// must ask for it (Connection: Upgrade, Upgrade: nucbox-console, or a
// WebSocket from the web page); a plain GET is answered with 426, so
// that a browser or curl shows what is expected instead of hanging.
func (s *Server) handleConsole(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	cs, ok := s.box.(Consoler)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this box has no VM consoles")
		return
	}
	ws := isWebSocket(r)
	if !ws && (!headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", ConsoleProtocol)) {
		w.Header().Set("Upgrade", ConsoleProtocol)
		w.Header().Set("Connection", "Upgrade")
		writeError(w, http.StatusUpgradeRequired, "the console is a bidirectional stream: request it with Connection: Upgrade and Upgrade: "+ConsoleProtocol+" (nucbox console NAME does), or as a WebSocket (the web page does)")
		return
	}
	con, err := cs.Console(name)
	switch {
	case errors.Is(err, ErrNoWorkload):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no VM named %q runs on this box (nucbox status lists them)", name))
		return
	case errors.Is(err, ErrNotRunning):
		writeError(w, http.StatusConflict, fmt.Sprintf("VM %q is not running (nucbox start %s)", name, name))
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if ws {
		// The web page's terminal: the same bytes, as binary messages.
		s.serveWebSocket(w, r, "console of "+name, con)
		return
	}
	defer con.Close()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "this connection cannot carry a console: "+err.Error())
		return
	}
	defer conn.Close()
	if !s.track(conn) {
		return
	}
	defer s.untrack(conn)
	// The server's read deadline no longer applies to a hijacked
	// connection's life: a console may sit idle for hours.
	conn.SetDeadline(time.Time{})
	s.logf("api: console of %s opened (request from %s)", name, who(r))
	defer s.logf("api: console of %s closed", name)
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + ConsoleProtocol + "\r\nConnection: Upgrade\r\n\r\n")
	if err := brw.Flush(); err != nil {
		return
	}
	pipeConsole(conn, brw.Reader, con)
}

// pipeConsole copies between the client and the console until either
// side ends, then ends the other.
func pipeConsole(conn net.Conn, in io.Reader, con io.ReadWriteCloser) {
	var once sync.Once
	end := func() {
		once.Do(func() {
			conn.Close()
			con.Close()
		})
	}
	done := make(chan struct{})
	safe.Go(log.Printf, "console input", func() {
		defer close(done)
		defer end()
		io.Copy(con, in) // typed input, including bytes already buffered
	})
	io.Copy(conn, con)
	end()
	<-done
}

// headerHas reports whether a comma-separated header holds token.
func headerHas(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}
