package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nucbox/nucbox/config/plan"
)

// TokenEnv is the environment variable a Client takes its token from when
// none is given, so that the token stays out of shell history.
const TokenEnv = "NUCBOX_TOKEN"

// ClientOptions pick the box a Client talks to. The fields are the nucbox
// command's flags of the same names, and a Client's errors name those
// flags: the person who reads an error is the one who typed them.
type ClientOptions struct {
	// Host is the box's API on the network, https://HOST:PORT or
	// HOST:PORT. Empty means the local socket, where being able to
	// connect is the authentication, so Token, Insecure and Fingerprint
	// must then be empty.
	Host string
	// Token is the bearer token for Host; empty takes $NUCBOX_TOKEN.
	Token string
	// Socket is the local socket; empty is plan.APISocket.
	Socket string
	// Insecure accepts any certificate from Host.
	Insecure bool
	// Fingerprint accepts only the certificate with this SHA-256, as the
	// box prints it on its console (hex, colons and a sha256: prefix
	// allowed). The box's certificate is self-signed: the fingerprint,
	// not a chain, is what a client can trust.
	Fingerprint string
}

// Client talks to one box's API. Its methods are the endpoints; those
// whose answer is one JSON document also return that document as the box
// sent it, so that a caller can print it unchanged, fields newer than
// this client included.
type Client struct {
	base  string // URL prefix of the API
	local bool   // base is the local socket
	token string
	http  *http.Client
	// stream is http without a timeout, for answers that take as long as
	// they take: followed logs, a VM's shutdown.
	stream *http.Client
	// upgrade is stream on HTTP/1.1 only, for the console's Upgrade.
	upgrade *http.Client
}

// callTimeout bounds the calls the box answers from what it knows
// (status, config, logs, plan). Calls that wait for the box's work
// (apply, workload actions, upgrade) have no bound of their own: their
// caller's context has it.
var callTimeout = 30 * time.Second

// OptionError is ClientOptions that cannot work; nothing was sent.
type OptionError struct{ msg string }

func (e *OptionError) Error() string { return e.msg }

// NewClient checks o and builds the client. It does not connect: the
// first request does.
func NewClient(o ClientOptions) (*Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	c := &Client{}
	if o.Host == "" {
		if o.Insecure || o.Fingerprint != "" || o.Token != "" {
			return nil, &OptionError{"--token, --insecure and --fingerprint go with --host; the local socket needs none of them"}
		}
		sock := o.Socket
		if sock == "" {
			sock = plan.APISocket
		}
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
		tr.Proxy = nil
		c.base, c.local = "http://nucbox", true
	} else {
		base, err := hostURL(o.Host)
		if err != nil {
			return nil, err
		}
		c.base = base
		c.token = o.Token
		if c.token == "" {
			c.token = os.Getenv(TokenEnv)
		}
		cfg, err := tlsConfig(o)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
		tr.DialTLSContext = dialTLS(cfg, []string{"h2", "http/1.1"})
	}
	c.http = &http.Client{Transport: tr, Timeout: callTimeout}
	c.stream = &http.Client{Transport: tr}
	// An Upgrade needs HTTP/1.1; a transport that never offers HTTP/2
	// keeps it there.
	up := tr.Clone()
	up.ForceAttemptHTTP2 = false
	up.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	if tr.TLSClientConfig != nil {
		up.DialTLSContext = dialTLS(tr.TLSClientConfig, []string{"http/1.1"})
	}
	c.upgrade = &http.Client{Transport: up}
	return c, nil
}

// handshakeTimeout bounds one TLS handshake with the box, and
// handshakeAttempts is how many connections a request tries while the
// handshakes time out. A stalled handshake has sent no request yet, so
// a new connection is safe for every method, an apply or a restart
// included: a box whose single CPU a guest's boot keeps busy, or a lost
// segment on a busy lab link, then costs seconds instead of the command.
var (
	handshakeTimeout  = 10 * time.Second
	handshakeAttempts = 3
)

// HandshakeError is a box that accepted connections but finished no TLS
// handshake on any of them in time.
type HandshakeError struct {
	Attempts int
	Each     time.Duration
	Last     error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("the TLS handshake timed out %d times (%v each): %v", e.Attempts, e.Each, e.Last)
}

func (e *HandshakeError) Unwrap() error { return e.Last }

// dialTLS connects and shakes hands offering protos, trying new
// connections while handshakes time out. Any other failure (refused,
// the wrong certificate) ends it at once.
func dialTLS(cfg *tls.Config, protos []string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		tc := cfg.Clone()
		tc.NextProtos = protos
		if tc.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				tc.ServerName = host
			}
		}
		var d net.Dialer
		var last error
		for range handshakeAttempts {
			raw, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			conn := tls.Client(raw, tc)
			hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
			err = conn.HandshakeContext(hctx)
			timedOut := hctx.Err() != nil
			cancel()
			if err == nil {
				return conn, nil
			}
			raw.Close()
			if ctx.Err() != nil || !timedOut {
				return nil, err
			}
			last = err
		}
		return nil, &HandshakeError{Attempts: handshakeAttempts, Each: handshakeTimeout, Last: last}
	}
}

// hostURL turns a Host into the API's base URL. Only https is accepted:
// the token must not cross the network in clear text.
func hostURL(h string) (string, error) {
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	u, err := url.Parse(h)
	if err != nil || u.Host == "" {
		return "", &OptionError{fmt.Sprintf("--host %q: want https://HOST:PORT", h)}
	}
	if u.Scheme != "https" {
		return "", &OptionError{fmt.Sprintf("--host %q: the API speaks https only", h)}
	}
	return "https://" + u.Host, nil
}

// tlsConfig is how the client trusts the box: by its certificate's
// fingerprint, by nothing (Insecure), or by the system's roots.
func tlsConfig(o ClientOptions) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case o.Fingerprint != "":
		want, err := parseFingerprint(o.Fingerprint)
		if err != nil {
			return nil, err
		}
		// The certificate is self-signed: trust comes from the
		// fingerprint, not from a chain.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the box sent no certificate")
			}
			got := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if !bytes.Equal(got[:], want) {
				return fmt.Errorf("the box's certificate has fingerprint %s, not the one given with --fingerprint", Fingerprint(cs.PeerCertificates[0].Raw))
			}
			return nil
		}
	case o.Insecure:
		cfg.InsecureSkipVerify = true
	}
	return cfg, nil
}

// parseFingerprint reads a fingerprint as Fingerprint writes it, or as
// other tools do (lower case, no colons, a sha256: prefix).
func parseFingerprint(s string) ([]byte, error) {
	h := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimPrefix(strings.ToLower(s), "sha256:")))
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return nil, &OptionError{fmt.Sprintf("--fingerprint %q: want the 64 hex digits of a SHA-256 (colons allowed)", s)}
	}
	return b, nil
}

// call sends one request and decodes the JSON of a 2xx answer into v;
// what names the answer in a decoding error. It returns the answer's body
// as well.
func (c *Client) call(ctx context.Context, hc *http.Client, method, path, contentType string, body []byte, v any, what string) ([]byte, error) {
	resp, err := c.send(ctx, hc, method, path, contentType, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return b, fmt.Errorf("reading %s: %w", what, err)
	}
	return b, nil
}

// send returns the response of a 2xx answer, with its body open; other
// answers become an *HTTPError carrying the API's message.
func (c *Client) send(ctx context.Context, hc *http.Client, method, path, contentType string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	c.authorize(req)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.explain(err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, c.httpError(resp)
}

// upgradeTo asks for path upgraded to protocol and returns the
// connection, which then carries that protocol both ways.
func (c *Client) upgradeTo(ctx context.Context, path, protocol string) (io.ReadWriteCloser, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", protocol)
	c.authorize(req)
	resp, err := c.upgrade.Do(req)
	if err != nil {
		return nil, c.explain(err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if rw, ok := resp.Body.(io.ReadWriteCloser); ok {
			return rw, nil
		}
		resp.Body.Close()
		return nil, errors.New("the box switched protocols but the connection is not writable")
	}
	defer resp.Body.Close()
	return nil, c.httpError(resp)
}

func (c *Client) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// explain adds what to do to the usual connection failures.
func (c *Client) explain(err error) error {
	where := c.base
	if c.local {
		where = "the local socket"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("cannot reach the box at %s: %w", where, ue.Err)
	}
	var cv *tls.CertificateVerificationError
	switch {
	case errors.As(err, &cv):
		return fmt.Errorf("%w\n(the box's certificate is self-signed: pass --fingerprint with the fingerprint from its console, or --insecure)", err)
	case c.local && (errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission)):
		return fmt.Errorf("%w\n(the local API is only on the box itself, for root; elsewhere use --host https://BOX:PORT --token ...)", err)
	}
	return err
}

// HTTPError is an API answer other than 2xx.
type HTTPError struct {
	Code int
	// Message is the API's message, with a hint for a missing token.
	Message string
	// Errors has one line per problem of a config that does not
	// validate, as `nucbox validate` prints them.
	Errors []string
}

// httpError reads the body of a failed answer.
func (c *Client) httpError(resp *http.Response) *HTTPError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var ae apiError
	e := &HTTPError{Code: resp.StatusCode}
	if json.Unmarshal(body, &ae) == nil && ae.Error != "" {
		e.Message, e.Errors = ae.Error, ae.Errors
	} else {
		e.Message = strings.TrimSpace(string(body))
	}
	if e.Code == http.StatusUnauthorized && c.token == "" {
		e.Message += " (give --token or set " + TokenEnv + ")"
	}
	return e
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("the box answered %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
	for _, l := range e.Errors {
		s += "\n" + l
	}
	return s
}
