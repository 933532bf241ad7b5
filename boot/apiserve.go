package boot

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/vmm"
	"golang.org/x/sys/unix"
)

// APISocket is where the local API listens.
const APISocket = "/run/nucbox/api.sock"

// startAPI serves the management API: always on the local socket, so that
// a box whose config failed can still be asked why, and on TCP with TLS
// when the config sets api.listen. cfg is nil when the config could not
// be read. It returns at once.
func startAPI(rec ConfigRecord, cfg *config.Config) {
	defer recoverLog("api")
	box := &apiBox{boot: rec}
	opts := api.Options{Box: box, Logf: Logf}
	if cfg != nil {
		opts.PublicStatus = cfg.API.PublicStatus
	}
	var cert *tlsSetup
	if cfg != nil && cfg.API.Listen != "" {
		var err error
		if cert, err = prepareTLS(cfg); err != nil {
			Logf("api: not listening on %s: %v", cfg.API.Listen, err)
		} else {
			opts.Token = cert.token
		}
	}
	srv := api.New(opts)
	goSafe("api", func() {
		if err := srv.ServeUnix(APISocket); err != nil {
			Logf("api: %s: %v", APISocket, err)
		}
	})
	if cert != nil {
		goSafe("api", func() {
			if err := srv.ServeTLS(cfg.API.Listen, cert.cert); err != nil {
				Logf("api: %s: %v", cfg.API.Listen, err)
			}
		})
		Logf("api: listening on %s (TLS, certificate SHA-256 %s)", cfg.API.Listen, cert.fingerprint)
	}
}

type tlsSetup struct {
	token       string
	cert        tls.Certificate
	fingerprint string
}

// prepareTLS loads or creates the token and the certificate in the state
// directory. A generated token is shown once, on the console only: the
// log ring is served by the API and may be read by more people than the
// console.
func prepareTLS(cfg *config.Config) (*tlsSetup, error) {
	t := &tlsSetup{token: cfg.API.Token}
	if t.token == "" {
		tok, created, err := api.LoadOrCreateToken(cfg.StateDir)
		if err != nil {
			return nil, fmt.Errorf("token: %w", err)
		}
		t.token = tok
		if created {
			consoleOnly(fmt.Sprintf("api: new token (shown once; also in %s/%s): %s", cfg.StateDir, api.TokenFile, tok))
		}
	}
	cert, created, err := api.LoadOrCreateCert(cfg.StateDir, cfg.Hostname)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if created {
		Logf("api: created a self-signed certificate in %s", cfg.StateDir)
	}
	if len(cert.Certificate) == 0 {
		return nil, errors.New("certificate: empty chain")
	}
	t.cert, t.fingerprint = cert, api.Fingerprint(cert.Certificate[0])
	return t, nil
}

// consoleOnly prints a line on the console without keeping it in Log.
func consoleOnly(text string) {
	console.mu.Lock()
	defer console.mu.Unlock()
	io.WriteString(console.out, stamp(sinceBoot())+" nucbox: "+text+"\n")
}

// apiBox is the running box as the API sees it.
type apiBox struct {
	boot ConfigRecord // the config read at boot, until one reaches ready
}

func (b *apiBox) State() api.BoxState {
	st := CurrentStatus()
	s := api.BoxState{Phase: st.Phase, Stage: st.Stage, Errors: st.Errors, Uptime: api.Duration(sinceBoot())}
	if st.Summary != nil {
		s.Summary = json.RawMessage(st.Summary.JSON())
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		s.Hostname = unix.ByteSliceToString(u.Nodename[:])
	}
	s.Try = theSupervisor.PendingTry()
	return s
}

// Apply applies a posted config. It does not take the request's context:
// a client that goes away halfway must not leave the stages half done.
func (b *apiBox) Apply(name string, data []byte, try time.Duration) (api.ApplyResult, error) {
	return theSupervisor.Apply(context.Background(), newConfigRecord("api:"+name, data), try)
}

func (b *apiBox) Confirm() (api.TryState, error) { return theSupervisor.Confirm() }

// Workloads lists the VMs and asks every stage that runs workloads; one
// that panics is left out rather than failing the status. A workload
// reported twice is listed once.
func (b *apiBox) Workloads() []api.Workload {
	var out []api.Workload
	callSafe(func() error {
		for _, s := range GuestStatuses() {
			out = append(out, vmWorkload(s))
		}
		return nil
	})
	for _, st := range theSupervisor.stages {
		src, ok := st.(api.WorkloadSource)
		if !ok {
			continue
		}
		callSafe(func() error {
			out = append(out, src.Workloads()...)
			return nil
		})
	}
	seen := map[[2]string]bool{}
	uniq := out[:0]
	for _, w := range out {
		if k := [2]string{w.Kind, w.Name}; !seen[k] {
			seen[k] = true
			uniq = append(uniq, w)
		}
	}
	return uniq
}

// vmWorkload is a guest as the API lists it.
func vmWorkload(s vmm.Status) api.Workload {
	w := api.Workload{
		Kind: "vm", Name: s.Name, State: string(s.State), PID: s.PID, Started: s.Started,
		Restarts: s.Restarts, LastError: s.LastError, LastErrorAt: s.LastErrorAt,
		Details: map[string]string{},
	}
	if s.Accel != "" {
		w.Details["accel"] = string(s.Accel)
	}
	if s.VNCPort > 0 {
		w.Details["vnc_port"] = strconv.Itoa(s.VNCPort)
	}
	if s.QMPStatus != "" {
		w.Details["qmp_status"] = s.QMPStatus
	}
	if s.StartupTime > 0 {
		w.Details["startup_ms"] = strconv.FormatInt(s.StartupTime.Milliseconds(), 10)
	}
	if len(w.Details) == 0 {
		w.Details = nil
	}
	return w
}

func (b *apiBox) RunningConfig() (api.ConfigInfo, bool) {
	rec, ok := LastGoodConfig()
	if !ok {
		rec, ok = b.boot, len(b.boot.Data) > 0
	}
	if !ok {
		return api.ConfigInfo{}, false
	}
	return api.ConfigInfo{Source: rec.Source, SHA256: rec.SHA256, Text: string(rec.Data)}, true
}

func (b *apiBox) Log(ctx context.Context, name string, follow bool) ([]api.LogLine, <-chan api.LogLine, bool) {
	if name != api.BootLog {
		lines, ok := ContainerLog(name)
		if !ok {
			lines, ok = GuestSerial(name)
		}
		if !ok || !follow {
			return lines, nil, ok
		}
		// Workload logs are kept as byte rings without sequence numbers, so
		// a follow streams what is there and ends rather than idling.
		done := make(chan api.LogLine)
		close(done)
		return lines, done, true
	}
	if !follow {
		return convertLines(Log.Lines()), nil, true
	}
	backlog, ch := Log.Follow(ctx)
	out := make(chan api.LogLine, 64)
	goSafe("api log", func() {
		defer close(out)
		for l := range ch {
			select {
			case out <- api.LogLine(l):
			case <-ctx.Done():
				// Follow closes ch once ctx ends; keep draining.
			}
		}
	})
	return convertLines(backlog), out, true
}

// textLines splits a workload's log text (container output, a VM's serial
// console) into numbered lines.
func textLines(b []byte) []api.LogLine {
	text := strings.TrimRight(string(b), "\n")
	if text == "" {
		return []api.LogLine{}
	}
	parts := strings.Split(text, "\n")
	lines := make([]api.LogLine, len(parts))
	for i, l := range parts {
		lines[i] = api.LogLine{Seq: uint64(i + 1), Text: strings.TrimRight(l, "\r")}
	}
	return lines
}

func convertLines(ls []LogLine) []api.LogLine {
	out := make([]api.LogLine, len(ls))
	for i, l := range ls {
		out[i] = api.LogLine(l)
	}
	return out
}

func (b *apiBox) Power(a api.PowerAction, reason string) error {
	if shuttingDown() {
		return errors.New("the box is already shutting down")
	}
	switch a {
	case api.PowerOff:
		Shutdown(PowerOff, reason)
	case api.Reboot:
		Shutdown(Reboot, reason)
	default:
		return fmt.Errorf("unknown power action %q", a)
	}
	return nil
}
