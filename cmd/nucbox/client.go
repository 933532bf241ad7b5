package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/nucbox/nucbox/boot/api"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nucbox/nucbox/boot"
	"github.com/spf13/cobra"
)

// remote is how a command reaches a box's API: the local socket by
// default, or --host with a token.
type remote struct {
	host        string
	token       string
	socket      string
	insecure    bool
	fingerprint string
	output      string
}

// addRemoteFlags gives a command the flags that pick the box.
func addRemoteFlags(c *cobra.Command, r *remote) {
	f := c.Flags()
	f.StringVar(&r.host, "host", "", "the box's API, https://HOST:PORT (default: the local socket)")
	f.StringVar(&r.token, "token", "", "API token for --host (default $NUCBOX_TOKEN)")
	f.StringVar(&r.socket, "socket", boot.APISocket, "the local API socket")
	f.BoolVar(&r.insecure, "insecure", false, "accept any TLS certificate (the box's is self-signed; prefer --fingerprint)")
	f.StringVar(&r.fingerprint, "fingerprint", "", "accept only the TLS certificate with this SHA-256 fingerprint (printed on the box's console)")
	f.StringVarP(&r.output, "output", "o", "text", "output format: text or json")
}

// apiClient talks to one box.
type apiClient struct {
	base  string // URL prefix of the API
	token string
	http  *http.Client
	// stream is http without a timeout, for following logs.
	stream *http.Client
	// upgrade is stream on HTTP/1.1 only, for the console's Upgrade.
	upgrade *http.Client
}

func (r *remote) checkOutput() error {
	if r.output != "text" && r.output != "json" {
		return usageError{fmt.Errorf("--output must be text or json, not %q", r.output)}
	}
	return nil
}

// client builds the HTTP client for the chosen box.
func (r *remote) client() (*apiClient, error) {
	if err := r.checkOutput(); err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	c := &apiClient{}
	if r.host == "" {
		if r.insecure || r.fingerprint != "" || r.token != "" {
			return nil, usageError{errors.New("--token, --insecure and --fingerprint go with --host; the local socket needs none of them")}
		}
		sock := r.socket
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
		tr.Proxy = nil
		c.base = "http://nucbox"
	} else {
		base, err := hostURL(r.host)
		if err != nil {
			return nil, usageError{err}
		}
		c.base = base
		c.token = r.token
		if c.token == "" {
			c.token = os.Getenv("NUCBOX_TOKEN")
		}
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		switch {
		case r.fingerprint != "":
			want, err := parseFingerprint(r.fingerprint)
			if err != nil {
				return nil, usageError{err}
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
					return fmt.Errorf("the box's certificate has fingerprint %s, not the one given with --fingerprint", api.Fingerprint(cs.PeerCertificates[0].Raw))
				}
				return nil
			}
		case r.insecure:
			cfg.InsecureSkipVerify = true
		}
		tr.TLSClientConfig = cfg
	}
	c.http = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	c.stream = &http.Client{Transport: tr}
	// An Upgrade needs HTTP/1.1; a transport that never offers HTTP/2
	// keeps it there.
	up := tr.Clone()
	up.ForceAttemptHTTP2 = false
	up.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	c.upgrade = &http.Client{Transport: up}
	return c, nil
}

// hostURL turns --host into the API's base URL. Only https is accepted:
// the token must not cross the network in clear text.
func hostURL(h string) (string, error) {
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	u, err := url.Parse(h)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--host %q: want https://HOST:PORT", h)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("--host %q: the API speaks https only", h)
	}
	return "https://" + u.Host, nil
}

func parseFingerprint(s string) ([]byte, error) {
	h := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimPrefix(strings.ToLower(s), "sha256:")))
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("--fingerprint %q: want the 64 hex digits of a SHA-256 (colons allowed)", s)
	}
	return b, nil
}

// request sends one API request and returns the body of a 2xx answer.
func (c *apiClient) request(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error) {
	resp, err := c.send(ctx, c.http, method, path, contentType, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}

// send returns the response of a 2xx answer, with its body open; other
// answers become errors carrying the API's message.
func (c *apiClient) send(ctx context.Context, hc *http.Client, method, path, contentType string, body []byte) (*http.Response, error) {
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
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.explain(err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return nil, newStatusError(resp.StatusCode, b, c.token != "")
}

// upgradeTo asks for path upgraded to protocol and returns the
// connection, which then carries that protocol both ways.
func (c *apiClient) upgradeTo(ctx context.Context, path, protocol string) (io.ReadWriteCloser, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", protocol)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
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
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return nil, newStatusError(resp.StatusCode, b, c.token != "")
}

// explain adds what to do to the usual connection failures.
func (c *apiClient) explain(err error) error {
	where := c.base
	if where == "http://nucbox" {
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
	case c.base == "http://nucbox" && (errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission)):
		return fmt.Errorf("%w\n(the local API is only on the box itself, for root; elsewhere use --host https://BOX:PORT --token ...)", err)
	}
	return err
}

// statusError is an API answer other than 2xx.
type statusError struct {
	code   int
	msg    string
	errors []string
}

func newStatusError(code int, body []byte, hadToken bool) *statusError {
	var ae struct {
		Error  string   `json:"error"`
		Errors []string `json:"errors"`
	}
	e := &statusError{code: code}
	if json.Unmarshal(body, &ae) == nil && ae.Error != "" {
		e.msg, e.errors = ae.Error, ae.Errors
	} else {
		e.msg = strings.TrimSpace(string(body))
	}
	if code == http.StatusUnauthorized && !hadToken {
		e.msg += " (give --token or set NUCBOX_TOKEN)"
	}
	return e
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("the box answered %d %s: %s", e.code, http.StatusText(e.code), e.msg)
	for _, l := range e.errors {
		s += "\n" + l
	}
	return s
}

// printJSON re-indents an API answer for --output json.
func printJSON(w io.Writer, body []byte) error {
	var buf bytes.Buffer
	body = bytes.TrimSpace(body)
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		_, err := w.Write(body)
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
