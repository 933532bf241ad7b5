package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config/plan"
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
	f.StringVar(&r.token, "token", "", "API token for --host (default $"+api.TokenEnv+")")
	f.StringVar(&r.socket, "socket", plan.APISocket, "the local API socket")
	f.BoolVar(&r.insecure, "insecure", false, "accept any TLS certificate (the box's is self-signed; prefer --fingerprint)")
	f.StringVar(&r.fingerprint, "fingerprint", "", "accept only the TLS certificate with this SHA-256 fingerprint (printed on the box's console)")
	f.StringVarP(&r.output, "output", "o", "text", "output format: text or json")
}

func (r *remote) checkOutput() error {
	if r.output != "text" && r.output != "json" {
		return usageError{fmt.Errorf("--output must be text or json, not %q", r.output)}
	}
	return nil
}

// client checks the flags and builds the API client for the chosen box.
func (r *remote) client() (*api.Client, error) {
	if err := r.checkOutput(); err != nil {
		return nil, err
	}
	c, err := api.NewClient(api.ClientOptions{Host: r.host, Token: r.token, Socket: r.socket, Insecure: r.insecure, Fingerprint: r.fingerprint})
	var oe *api.OptionError
	if errors.As(err, &oe) {
		return nil, usageError{err}
	}
	return c, err
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
