package api

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"

	"github.com/nucbox/nucbox/internal/safe"
)

// The browser's streams (a VM's screen for noVNC, a serial console for
// xterm.js) are WebSockets carrying raw bytes as binary messages, the
// convention of noVNC's websockify: subprotocol "binary", one message per
// chunk read, message boundaries meaning nothing.

// BinarySubprotocol is the WebSocket subprotocol of the byte streams.
const BinarySubprotocol = "binary"

// BearerProtocolPrefix starts a Sec-WebSocket-Protocol entry that carries
// the API token, base64url without padding after the prefix. A browser
// cannot set Authorization on a WebSocket, and a token in the URL would
// end up in logs and history; the header is sent once, over TLS, and the
// server never echoes the entry back (it picks BinarySubprotocol).
// Kubernetes' API server takes its bearer tokens the same way.
const BearerProtocolPrefix = "base64url.bearer.nucbox."

// isWebSocket reports whether r asks for a WebSocket.
func isWebSocket(r *http.Request) bool {
	return headerHas(r.Header, "Connection", "upgrade") && headerHas(r.Header, "Upgrade", "websocket")
}

// webSocketBearer returns the token a WebSocket request carries in its
// subprotocols, and whether it carries one.
func webSocketBearer(r *http.Request) (string, bool) {
	if !isWebSocket(r) {
		return "", false
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			enc, ok := strings.CutPrefix(strings.TrimSpace(p), BearerProtocolPrefix)
			if !ok {
				continue
			}
			b, err := base64.RawURLEncoding.DecodeString(enc)
			if err != nil {
				return "", true // present but unreadable: a wrong token
			}
			return string(b), true
		}
	}
	return "", false
}

// serveWebSocket upgrades r and copies between the WebSocket and stream
// until either ends; it closes stream. The cross-origin check of the
// WebSocket library stays on: a page of another site cannot open it with
// the browser's cookies. The connection stays counted by the connection
// limiter until it closes, and its read deadline was cleared when the
// request passed its access check (bodyStream).
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, what string, stream io.ReadWriteCloser) {
	defer stream.Close()
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{BinarySubprotocol}})
	if err != nil {
		// Accept has answered the request (a bad handshake, a foreign
		// origin).
		s.logf("api: %s: WebSocket refused (request from %s): %v", what, who(r), err)
		return
	}
	// A viewer's messages are small, but a clipboard paste is not.
	c.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn := websocket.NetConn(ctx, c, websocket.MessageBinary)
	defer conn.Close()
	if !s.track(conn) {
		return
	}
	defer s.untrack(conn)
	s.logf("api: %s opened (request from %s)", what, who(r))
	defer s.logf("api: %s closed", what)
	s.pipe(what, conn, stream)
}

// pipe copies both ways between conn and stream until either side ends,
// then closes both.
func (s *Server) pipe(what string, conn net.Conn, stream io.ReadWriteCloser) {
	var once sync.Once
	end := func() {
		once.Do(func() {
			conn.Close()
			stream.Close()
		})
	}
	done := make(chan struct{})
	safe.Go(s.logf, "api: "+what+" input", func() {
		defer close(done)
		defer end()
		io.Copy(stream, conn)
	})
	func() {
		defer safe.Recover(s.logf, "api: "+what+" output")
		io.Copy(conn, stream)
	}()
	end()
	<-done
}
