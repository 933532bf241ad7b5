package boot

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/netcfg"
	"golang.org/x/sys/unix"
)

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
		if err := srv.ServeUnix(plan.APISocket); err != nil {
			Logf("api: %s: %v", plan.APISocket, err)
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
	s.Slot = slotState()
	return s
}

// Upgrade writes a new image into the other boot slot.
func (b *apiBox) Upgrade(image []byte, tries int) (api.UpgradeResult, error) {
	return Upgrade(image, tries)
}

// Apply applies a posted config. It does not take the request's context:
// a client that goes away halfway must not leave the stages half done.
func (b *apiBox) Apply(name string, data []byte, try time.Duration) (api.ApplyResult, error) {
	return theSupervisor.Apply(context.Background(), newConfigRecord("api:"+name, data), try)
}

func (b *apiBox) Confirm() (api.TryState, error) { return theSupervisor.Confirm() }

// Workloads asks every stage that runs workloads; one that panics is
// left out rather than failing the status. A workload reported twice is
// listed once.
func (b *apiBox) Workloads() []api.Workload {
	var out []api.Workload
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
		for _, st := range workloadStages() {
			if lines, more, ok := st.log(ctx, name, follow); ok {
				return lines, more, true
			}
		}
		return nil, nil, false
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

// workloadStages are the running supervisor's stages that run workloads,
// in stage order: every kind reaches the API through its pool the same
// way.
func workloadStages() []workloadStage {
	var out []workloadStage
	for _, st := range theSupervisor.stages {
		if ws, ok := st.(workloadStage); ok {
			out = append(out, ws)
		}
	}
	return out
}

// stageOf is the running supervisor's stage of type T, nil without one.
func stageOf[T Stage]() T {
	var zero T
	for _, st := range theSupervisor.stages {
		if t, ok := st.(T); ok {
			return t
		}
	}
	return zero
}

// newLines appends b to the unfinished line in *partial and returns the
// lines it completes.
func newLines(partial *[]byte, b []byte) []string {
	*partial = append(*partial, b...)
	var out []string
	for {
		i := bytes.IndexByte(*partial, '\n')
		if i < 0 {
			break
		}
		out = append(out, string((*partial)[:i]))
		*partial = (*partial)[i+1:]
	}
	if len(*partial) == 0 {
		*partial = nil
	}
	return out
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

// Control starts, stops or restarts a VM or a container.
func (b *apiBox) Control(ctx context.Context, name string, a api.WorkloadAction) (api.Workload, error) {
	for _, st := range workloadStages() {
		w, err := st.control(ctx, name, a)
		if !errors.Is(err, api.ErrNoWorkload) {
			return w, err
		}
	}
	return api.Workload{}, api.ErrNoWorkload
}

// Console opens a workload's console (a VM's serial console).
func (b *apiBox) Console(name string) (io.ReadWriteCloser, error) {
	for _, st := range workloadStages() {
		c, err := st.console(name)
		if !errors.Is(err, api.ErrNoWorkload) {
			return c, err
		}
	}
	return nil, api.ErrNoWorkload
}

// UplinkLease is the network stage's DHCP lease.
func (b *apiBox) UplinkLease() *api.Lease {
	n := stageOf[*networkStage]()
	if n == nil {
		return nil
	}
	n.mu.Lock()
	mgr := n.mgr
	n.mu.Unlock()
	if mgr == nil {
		return nil
	}
	l := mgr.Status().Lease
	if l == nil {
		return nil
	}
	al := apiLease(l)
	return &al
}

// WorkloadUsage measures a workload whose kind can (a container, from
// its cgroup); a VM is left to QEMU's /proc entry.
func (b *apiBox) WorkloadUsage(w api.Workload) (api.Usage, bool) {
	for _, st := range workloadStages() {
		if u, ok := st.usage(w); ok {
			return u, true
		}
	}
	return api.Usage{}, false
}

// apiLease is a netcfg lease as the API shows it.
func apiLease(l *netcfg.Lease) api.Lease {
	a := api.Lease{Link: l.Link, State: l.State, Obtained: l.Acquired, Renew: l.T1, Rebind: l.T2,
		Expiry: l.Expiry, Renewals: l.Renewals, LastError: l.LastError}
	if l.Address.IsValid() {
		a.Address = l.Address.String()
	}
	if l.Server.IsValid() {
		a.Server = l.Server.String()
	}
	if l.Router.IsValid() {
		a.Router = l.Router.String()
	}
	return a
}
