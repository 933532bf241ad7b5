package boot

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nucbox/nucbox/internal/configsig"
	"github.com/nucbox/nucbox/netcfg/timesync"
)

// DefaultConfigPath is the config baked into the image.
const DefaultConfigPath = "/etc/nucbox/config.yaml"

// Config fetching over the network: how long to keep trying a URL at boot
// before falling back to the next source, and the limits of one attempt.
const (
	defaultFetchTimeout = 30 * time.Second
	fetchAttemptTimeout = 10 * time.Second
	maxConfigBytes      = 1 << 20
)

// errNoConfig marks a source that has no config at all (a missing file), as
// opposed to one that failed: the former is not worth a warning.
var errNoConfig = errors.New("no config there")

// configSource is one place the config may come from at boot.
type configSource interface {
	// String names the source in logs.
	String() string
	// Fetch returns the config's bytes and the name errors in it are
	// reported under (a path, or the URL as fetched).
	Fetch(ctx context.Context) (name string, data []byte, err error)
}

// fileSource is a config file in the image or on the data partition.
type fileSource string

func (f fileSource) String() string { return string(f) }

func (f fileSource) Fetch(context.Context) (string, []byte, error) {
	b, err := os.ReadFile(string(f))
	if errors.Is(err, fs.ErrNotExist) {
		return string(f), nil, fmt.Errorf("%s: %w", f, errNoConfig)
	}
	return string(f), b, err
}

// configSources lists where the config may come from, in order: the kernel
// command line's nucbox.config= (a path, or an http(s) URL template), the
// last known good config on the data partition, and the config baked into
// the image. The first one that yields a valid config wins. A config named
// on the command line is authoritative: when it cannot be had, the box
// falls back to the last good config but not to the baked one, which is
// a default for boxes that name none (every machine of a PXE rack boots
// the same bundle; the baked config would give them all one identity).
func configSources(c Cmdline, lastGoodPath string) ([]configSource, error) {
	var out []configSource
	spec, _ := c.Get("nucbox.config")
	if spec != "" {
		src, err := cmdlineSource(c, spec)
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	if lastGoodPath != "" {
		out = append(out, fileSource(lastGoodPath))
	}
	if spec == "" {
		out = append(out, fileSource(DefaultConfigPath))
	}
	return out, nil
}

// cmdlineSource parses nucbox.config=: a path, file://PATH, or an http(s)
// URL whose ${mac}, ${uuid} and ${hostname} are filled in at fetch time.
// The image's config key, when it has one, applies to URLs.
func cmdlineSource(c Cmdline, spec string) (configSource, error) {
	key, err := readConfigKey(configsig.PublicKeyPath)
	if err != nil {
		return nil, err
	}
	return cmdlineSourceWithKey(c, spec, key)
}

// readConfigKey reads the image's config key (configsig.PublicKeyPath),
// nil when the image has none. A key file that is there but unusable is
// an error, not the absence of a key: the box would otherwise take
// unsigned configs its builder meant it to refuse.
func readConfigKey(path string) (ed25519.PublicKey, error) {
	k, err := configsig.ReadPublicKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config key: %w", err)
	}
	return k, nil
}

// cmdlineSourceWithKey is cmdlineSource with the config key given.
// nucbox.config.sha256= pins the config's content, whatever its source.
// With a key, a config from a URL is used only with a valid signature
// from the URL's .sig. Plain http needs the pin or the key, since anyone
// on the path could otherwise hand the box a config of their choosing.
func cmdlineSourceWithKey(c Cmdline, spec string, key ed25519.PublicKey) (configSource, error) {
	pin, err := configPin(c)
	if err != nil {
		return nil, err
	}
	scheme, rest, hasScheme := strings.Cut(spec, "://")
	switch {
	case !hasScheme:
		return pinFile(fileSource(spec), pin), nil
	case scheme == "file":
		return pinFile(fileSource(rest), pin), nil
	case scheme == "http" || scheme == "https":
		if err := checkTemplate(spec); err != nil {
			return nil, fmt.Errorf("nucbox.config=%s: %w", spec, err)
		}
		certPin, err := configCertPin(c, scheme)
		if err != nil {
			return nil, err
		}
		timeout := defaultFetchTimeout
		if v, ok := c.Get("nucbox.config.timeout"); ok {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("nucbox.config.timeout=%s: want a duration such as 30s", v)
			}
			timeout = d
		}
		if scheme == "http" && pin == "" && key == nil {
			return nil, fmt.Errorf("nucbox.config=%s: plain http can be read and changed by anyone on the network: "+
				"add %s=<the config's SHA-256, from sha256sum> to the kernel command line, "+
				"build the image with --config-key and serve signed configs (nucbox config sign), "+
				"or serve the config over https", spec, pinParam)
		}
		if key != nil {
			if _, err := configsig.SignatureURL(mustExpand(spec)); err != nil {
				return nil, fmt.Errorf("nucbox.config=%s: %w", spec, err)
			}
		}
		bootif, _ := c.Get("BOOTIF")
		var ntp []string
		if v, ok := c.Get("nucbox.ntp"); ok {
			ntp = strings.FieldsFunc(v, func(r rune) bool { return r == ',' })
		}
		u := &urlSource{template: spec, timeout: timeout, bootif: bootif, pin: pin, key: key, clock: clock, ntp: ntp}
		if certPin != "" {
			u.get = pinnedGet(certPin)
		}
		return u, nil
	default:
		return nil, fmt.Errorf("nucbox.config=%s: unsupported source %q (use a path or an http(s) URL)", spec, scheme)
	}
}

// templateVars are the names a config URL may use.
var templateVars = []string{"mac", "uuid", "hostname"}

// checkTemplate rejects unknown or unterminated ${...} at parse time, so a
// typo is reported before any network traffic.
func checkTemplate(tmpl string) error {
	_, err := expandTemplate(tmpl, func(string) string { return "x" })
	return err
}

// mustExpand fills a checked template with placeholders, for checks of
// the URL's shape at parse time.
func mustExpand(tmpl string) string {
	s, _ := expandTemplate(tmpl, func(string) string { return "x" })
	return s
}

// expandTemplate replaces ${name} with value(name), path-escaped so a
// hostname cannot add path segments or a query.
func expandTemplate(tmpl string, value func(name string) string) (string, error) {
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", tmpl)
		}
		name := rest[i+2 : i+end]
		known := false
		for _, v := range templateVars {
			known = known || v == name
		}
		if !known {
			return "", fmt.Errorf("unknown variable ${%s} (known: ${mac}, ${uuid}, ${hostname})", name)
		}
		b.WriteString(url.PathEscape(value(name)))
		rest = rest[i+end+1:]
	}
}

// urlSource fetches the config over HTTP. The box has no network yet when
// it runs, so Fetch brings the uplink up with a temporary DHCP lease and
// gives it back afterwards: the network stage then sets up the network
// the config asks for.
type urlSource struct {
	template string
	timeout  time.Duration
	// bootif is the PXE loader's BOOTIF= (01-aa-bb-...), naming the NIC
	// that booted; empty lets the box pick the first link with carrier.
	bootif string
	// pin is nucbox.config.sha256=, lower-case hex; empty pins nothing.
	pin string
	// key is the image's config key; nil asks for no signature.
	key ed25519.PublicKey
	// clock is set from NTP before a fetch, from the servers of ntp
	// (nucbox.ntp=) or the lease's; nil leaves it alone.
	clock *timesync.Clock
	ntp   []string

	// lease and get are the network and HTTP steps, replaceable in tests.
	lease func(ctx context.Context, bootif string) (bootLease, error)
	get   func(ctx context.Context, url string) ([]byte, error)
}

// bootLease is a temporary address on the uplink.
type bootLease interface {
	Vars() map[string]string
	// NTP are the time servers the lease names (DHCP option 42).
	NTP() []string
	Close() error
}

func (u *urlSource) String() string { return u.template }

func (u *urlSource) Fetch(ctx context.Context) (string, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	leaseFn, get := u.lease, u.get
	if leaseFn == nil {
		leaseFn = startBootLease
	}
	if get == nil {
		get = httpGet
	}
	l, err := leaseFn(ctx, u.bootif)
	if err != nil {
		return u.template, nil, fmt.Errorf("network for %s: %w", u.template, err)
	}
	defer l.Close()
	vars := l.Vars()
	target, err := expandTemplate(u.template, func(n string) string { return vars[n] })
	if err != nil {
		return u.template, nil, err
	}
	Logf("config: fetching %s", target)
	var last error
	for attempt, wait := 1, time.Second; ; attempt++ {
		u.syncClock(ctx, l)
		data, err := get(ctx, target)
		if err == nil {
			Logf("config: fetched %s (%d bytes, attempt %d)", target, len(data), attempt)
			// A mismatch is not retried: the server has another config
			// than the one the command line names, or someone on the
			// way changed it.
			if err := checkPin(target, data, u.pin); err != nil {
				return target, nil, err
			}
			if u.key == nil {
				return target, data, nil
			}
			var final bool
			if final, err = u.checkSignature(ctx, get, target, data); err == nil {
				return target, data, nil
			}
			if final {
				return target, nil, err
			}
		}
		// The server answered that it has no config for this machine: it
		// will not have one in a few seconds either. The box goes on to
		// maintenance mode at once, where the URL is tried again.
		var se *httpStatusError
		if errors.As(err, &se) && (se.code == http.StatusNotFound || se.code == http.StatusGone) {
			return target, nil, fmt.Errorf("%s: %w: the server has no config for this machine", target, err)
		}
		last = err
		Logf("config: %s: attempt %d: %v; retrying in %s", target, attempt, err, wait)
		select {
		case <-ctx.Done():
			return target, nil, fmt.Errorf("%s: gave up after %d attempts in %s: %w", target, attempt, u.timeout, last)
		case <-time.After(wait):
		}
		wait = min(2*wait, 8*time.Second)
	}
}

// syncClock sets the clock from NTP before a fetch, until one sync has
// worked: an https URL's certificate is only as good as the clock it is
// checked against. Without servers from the command line or the lease,
// the public pool is asked only when the clock cannot be right.
func (u *urlSource) syncClock(ctx context.Context, l bootLease) {
	if u.clock == nil || u.clock.Status().Synced {
		return
	}
	servers, source := u.ntp, "command line"
	if len(servers) == 0 {
		servers, source = l.NTP(), "dhcp"
	}
	if len(servers) == 0 {
		if timesync.Sane(time.Now()) {
			return
		}
		servers, source = timesync.DefaultServers, "default"
	}
	u.clock.SetServers(servers, source)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := u.clock.Sync(sctx); err != nil {
		Logf("config: clock not set (%v); fetching with the clock at %s", err, time.Now().UTC().Format(time.RFC3339))
	}
}

// checkSignature fetches target's signature and verifies data with it.
// final reports an error that retrying cannot mend: a signature that the
// server does not have, or that is wrong. A failure to fetch it (the
// network, a server error) is worth another attempt.
func (u *urlSource) checkSignature(ctx context.Context, get func(context.Context, string) ([]byte, error), target string, data []byte) (final bool, err error) {
	sigURL, err := configsig.SignatureURL(target)
	if err != nil {
		return true, fmt.Errorf("%s: %w", target, err)
	}
	fp := configsig.Fingerprint(u.key)
	sign := fmt.Sprintf("sign it with the private key of the image's --config-key (nucbox config sign --key %s CONFIG) "+
		"and serve CONFIG%s beside it", configsig.PrivateKeyName, configsig.Suffix)
	sig, err := get(ctx, sigURL)
	var se *httpStatusError
	switch {
	case errors.As(err, &se) && (se.code == http.StatusNotFound || se.code == http.StatusGone):
		return true, fmt.Errorf("%s: no signature at %s (%v): this image takes configs from a URL only when they are signed with its config key %s; %s: not using it",
			target, sigURL, err, fp, sign)
	case err != nil:
		return false, fmt.Errorf("signature %s: %w", sigURL, err)
	}
	switch err := configsig.Verify(u.key, data, sig); {
	case errors.Is(err, configsig.ErrBadSignature):
		return true, fmt.Errorf("%s: the signature %s does not match: the config was changed after it was signed, or signed with another key than the image's %s; %s: not using it",
			target, sigURL, fp, sign)
	case err != nil:
		return true, fmt.Errorf("%s: %s: %v; %s: not using it", target, sigURL, err, sign)
	}
	Logf("config: %s: signature verified with the image's config key %s", target, fp)
	return false, nil
}

// httpGet fetches one URL with a bounded time and size.
func httpGet(ctx context.Context, target string) ([]byte, error) {
	return getWith(ctx, configClient, target)
}

func getWith(ctx context.Context, client *http.Client, target string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchAttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "nucbox/"+versionString())
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &httpStatusError{code: resp.StatusCode, status: resp.Status}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxConfigBytes)
	}
	return b, nil
}

// httpStatusError is an answer other than 200 OK.
type httpStatusError struct {
	code   int
	status string
}

func (e *httpStatusError) Error() string { return "HTTP " + e.status }

// configClient fetches config URLs: http.DefaultClient's transport, and
// no redirect from https to http, which would give up the protection the
// https URL was chosen for.
var configClient = &http.Client{CheckRedirect: noDowngrade}

func noDowngrade(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Scheme != "https" {
		for _, v := range via {
			if v.URL.Scheme == "https" {
				return fmt.Errorf("refusing the redirect from %s to %s: it leaves https", v.URL.Redacted(), req.URL.Redacted())
			}
		}
	}
	return nil
}

// certPinParam pins the certificate of an https config server: the
// SHA-256 of its DER, as a box serving a rack (netcfg/pxed) writes it
// into the script its machines boot. The certificate is then checked
// against the pin alone: a rack machine's clock may be anywhere, and the
// box's certificate is its own, signed by nobody.
const certPinParam = "nucbox.config.cert-sha256"

// configCertPin returns nucbox.config.cert-sha256= in lower case, "" if
// unset; it needs an https URL, which is what it pins.
func configCertPin(c Cmdline, scheme string) (string, error) {
	v, ok := c.Get(certPinParam)
	if !ok || v == "" {
		return "", nil
	}
	v = strings.ToLower(v)
	if b, err := hex.DecodeString(v); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("%s=%s: want the 64 hex digits of the server certificate's SHA-256", certPinParam, v)
	}
	if scheme != "https" {
		return "", fmt.Errorf("%s=%s pins the certificate of an https config server, and nucbox.config= is not https", certPinParam, v)
	}
	return v, nil
}

// pinnedGet fetches over https from a server whose certificate hashes to
// pin, whoever signed it, and from no other; redirects are not followed,
// since they would lead to servers the pin does not cover.
func pinnedGet(pin string) func(context.Context, string) ([]byte, error) {
	tr := &http.Transport{
		Proxy:               nil,
		TLSHandshakeTimeout: fetchAttemptTimeout,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The pin replaces the chain and name checks.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("the config server sent no certificate")
				}
				sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
				if got := hex.EncodeToString(sum[:]); got != pin {
					return fmt.Errorf("the config server's certificate has SHA-256 %s, but %s=%s: not using it", got, certPinParam, pin)
				}
				return nil
			},
		},
	}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("not following a redirect away from the pinned config server")
	}}
	return func(ctx context.Context, target string) ([]byte, error) { return getWith(ctx, client, target) }
}

// pinParam pins the config named on the kernel command line.
const pinParam = "nucbox.config.sha256"

// configPin returns nucbox.config.sha256= in lower case, or "" if unset.
func configPin(c Cmdline) (string, error) {
	v, ok := c.Get(pinParam)
	if !ok || v == "" {
		return "", nil
	}
	v = strings.ToLower(v)
	if b, err := hex.DecodeString(v); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("%s=%s: want the 64 hex digits of the config's SHA-256 (sha256sum FILE)", pinParam, v)
	}
	return v, nil
}

// checkPin fails unless data hashes to pin (when there is one).
func checkPin(name string, data []byte, pin string) error {
	if pin == "" {
		return nil
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != pin {
		return fmt.Errorf("%s: the config's SHA-256 is %s, but %s=%s: not using it", name, got, pinParam, pin)
	}
	return nil
}

// pinnedFile is a config file named on the command line with a pin.
type pinnedFile struct {
	fileSource
	pin string
}

func pinFile(f fileSource, pin string) configSource {
	if pin == "" {
		return f
	}
	return pinnedFile{f, pin}
}

func (p pinnedFile) Fetch(ctx context.Context) (string, []byte, error) {
	name, data, err := p.fileSource.Fetch(ctx)
	if err == nil {
		err = checkPin(name, data, p.pin)
	}
	if err != nil {
		return name, nil, err
	}
	return name, data, nil
}

// machineUUID is the SMBIOS system UUID, lower case, as iPXE's ${uuid}
// shows it.
func machineUUID() string {
	b, err := os.ReadFile(filepath.Join("/sys/class/dmi/id", "product_uuid"))
	if err != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(string(b)))
}
