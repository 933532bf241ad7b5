package box

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
	"github.com/nucbox/nucbox/internal/safe"
	"github.com/nucbox/nucbox/netcfg"
)

// StartAPI serves the management API: always on the local socket, so that
// a box whose config failed can still be asked why, and on TCP with TLS
// when the config sets api.listen. rec is the config read at boot, shown
// as the running one until a config reaches ready; cfg is nil when the
// config could not be read. It returns at once; the api stage applies
// later configs' api sections to the same server.
func (b *Box) StartAPI(rec ConfigRecord, cfg *config.Config) {
	defer safe.Recover(b.o.Logf, "api")
	opts := api.Options{Box: &apiBox{b: b, boot: rec}, Logf: b.o.Logf, WebAssets: api.WebAssetsDir}
	want := apiWant{API: plan.API{Socket: plan.APISocket}}
	if cfg != nil {
		want = apiWant{API: plan.APIOf(cfg), stateDir: cfg.StateDir, hostname: cfg.Hostname}
		opts.PublicStatus = cfg.API.PublicStatus
	}
	b.api.start(api.New(opts), want)
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
func (b *Box) prepareTLS(want apiWant) (*tlsSetup, error) {
	t := &tlsSetup{token: want.Token}
	dir := b.credentialsDir(want.stateDir)
	if dir != want.stateDir {
		b.logger("api: ").Printf("the state directory %s is on the data partition, which is not mounted: the token and certificate are kept in %s until power off", want.stateDir, dir)
	}
	if t.token == "" {
		tok, created, err := api.LoadOrCreateToken(dir)
		if err != nil {
			return nil, fmt.Errorf("token: %w", err)
		}
		t.token = tok
		if created {
			b.o.ConsoleOnly(fmt.Sprintf("api: new token (shown once; also in %s/%s): %s", dir, api.TokenFile, tok))
		}
	}
	cert, created, err := api.LoadOrCreateCert(dir, want.hostname)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if created {
		b.logger("api: ").Printf("created a self-signed certificate in %s", dir)
	}
	if len(cert.Certificate) == 0 {
		return nil, errors.New("certificate: empty chain")
	}
	t.cert, t.fingerprint = cert, api.Fingerprint(cert.Certificate[0])
	return t, nil
}

// apiBox is the running box as the API sees it.
type apiBox struct {
	b    *Box
	boot ConfigRecord // the config read at boot, until one reaches ready
}

func (a *apiBox) State() api.BoxState {
	st := a.b.Status()
	s := api.BoxState{Phase: st.Phase, Stage: st.Stage, Errors: st.Errors, Uptime: api.Duration(a.b.o.Uptime())}
	if st.Summary != nil {
		s.Summary = json.RawMessage(st.Summary.JSON())
	}
	if name, ok := hostname(); ok {
		s.Hostname = name
	}
	s.Try = a.b.PendingTry()
	s.Slot = a.b.slotState()
	s.SecureBoot = a.b.o.Slot.SecureBootState()
	if r := stageOf[*reserveStage](a.b); r != nil {
		s.WorkloadLimits, _ = r.hits()
	}
	s.Data = a.b.dataPartition()
	s.Time = timeState(a.b.o.Clock)
	if a.b.srv != nil && s.Time != nil {
		s.Time.Serving, s.Time.Answered = a.b.srv.ntpServing()
	}
	if a.b.srv != nil {
		s.PXE = pxeState(a.b.srv.pxeStatus())
	}
	if l := stageOf[*loggingStage](a.b); l != nil {
		s.Logging = l.status()
	}
	if l := stageOf[*lldpStage](a.b); l != nil {
		s.Neighbors = l.neighbors()
		s.VLANCheck = l.vlans.status()
	}
	if n := stageOf[*networkStage](a.b); n != nil {
		s.Overlays, s.UplinkBond = n.tunnels(), n.bondState()
		s.ErrDisabled = n.errDisabledPorts()
	}
	return s
}

// Upgrade writes a new image into the other boot slot.
func (a *apiBox) Upgrade(image []byte, tries int) (api.UpgradeResult, error) {
	return a.b.Upgrade(image, tries)
}

// Apply applies a posted config. It does not take the request's context:
// a client that goes away halfway must not leave the stages half done.
func (a *apiBox) Apply(name string, data []byte, try time.Duration) (api.ApplyResult, error) {
	return a.b.Apply(context.Background(), NewConfigRecord("api:"+name, data), try)
}

func (a *apiBox) Confirm() (api.TryState, error) { return a.b.Confirm() }

// Workloads asks every stage that runs workloads; one that panics is
// left out rather than failing the status. A workload reported twice is
// listed once.
func (a *apiBox) Workloads() []api.Workload {
	var out []api.Workload
	for _, st := range a.b.sup.stages {
		src, ok := st.(api.WorkloadSource)
		if !ok {
			continue
		}
		a.b.sup.callSafe(func() error {
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

func (a *apiBox) RunningConfig() (api.ConfigInfo, bool) {
	rec, ok := a.b.LastGood()
	if !ok {
		rec, ok = a.boot, len(a.boot.Data) > 0
	}
	if !ok {
		return api.ConfigInfo{}, false
	}
	return api.ConfigInfo{Source: rec.Source, SHA256: rec.SHA256, Text: string(rec.Data)}, true
}

func (a *apiBox) Log(ctx context.Context, name string, follow bool) ([]api.LogLine, <-chan api.LogLine, bool) {
	if name != api.BootLog {
		for _, st := range a.b.workloadStages() {
			if lines, more, ok := st.log(ctx, name, follow); ok {
				return lines, more, true
			}
		}
		return nil, nil, false
	}
	if a.b.o.BootLog == nil {
		return []api.LogLine{}, nil, true
	}
	lines, more := a.b.o.BootLog(ctx, follow)
	return lines, more, true
}

// workloadStages are the box's stages that run workloads, in stage
// order: every kind reaches the API through its pool the same way.
func (b *Box) workloadStages() []workloadStage {
	var out []workloadStage
	for _, st := range b.sup.stages {
		if ws, ok := st.(workloadStage); ok {
			out = append(out, ws)
		}
	}
	return out
}

// stageOf is b's stage of type T, nil without one.
func stageOf[T Stage](b *Box) T {
	var zero T
	for _, st := range b.sup.stages {
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

func (a *apiBox) Power(p api.PowerAction, reason string) error {
	if a.b.shuttingDown() {
		return errors.New("the box is already shutting down")
	}
	switch p {
	case api.PowerOff:
		a.b.o.PowerOff(reason)
	case api.Reboot:
		a.b.o.Reboot(reason)
	default:
		return fmt.Errorf("unknown power action %q", p)
	}
	return nil
}

// Control starts, stops or restarts a VM or a container.
func (a *apiBox) Control(ctx context.Context, name string, act api.WorkloadAction) (api.Workload, error) {
	for _, st := range a.b.workloadStages() {
		w, err := st.control(ctx, name, act)
		if !errors.Is(err, api.ErrNoWorkload) {
			return w, err
		}
	}
	return api.Workload{}, api.ErrNoWorkload
}

// Console opens a workload's console (a VM's serial console).
func (a *apiBox) Console(name string) (io.ReadWriteCloser, error) {
	for _, st := range a.b.workloadStages() {
		c, err := st.console(name)
		if !errors.Is(err, api.ErrNoWorkload) {
			return c, err
		}
	}
	return nil, api.ErrNoWorkload
}

// OpenVNC opens a VM's screen (QEMU's VNC unix socket).
func (a *apiBox) OpenVNC(name string) (io.ReadWriteCloser, error) {
	for _, st := range a.b.workloadStages() {
		c, err := st.vnc(name)
		if !errors.Is(err, api.ErrNoWorkload) {
			return c, err
		}
	}
	return nil, api.ErrNoWorkload
}

// UplinkLease is the network stage's DHCP lease.
func (a *apiBox) UplinkLease() *api.Lease {
	st := a.b.Network()
	if st == nil || st.Lease == nil {
		return nil
	}
	l := st.Lease
	al := apiLease(l)
	return &al
}

// UplinkLease6 is the network stage's DHCPv6 lease.
func (a *apiBox) UplinkLease6() *api.Lease {
	st := a.b.Network()
	if st == nil || st.Lease6 == nil {
		return nil
	}
	l := st.Lease6
	al := api.Lease{Link: l.Link, State: l.State, Obtained: l.Acquired, Renew: l.Renew, Rebind: l.Rebind,
		Expiry: l.Expiry, Server: l.Server, Renewals: l.Renewals, LastError: l.LastError}
	if l.Address.IsValid() {
		al.Address = l.Address.String()
	}
	return &al
}

// ServedLeases are the box's DHCP server's leases.
func (a *apiBox) ServedLeases() []api.ServedLease {
	if a.b.srv == nil {
		return nil
	}
	return a.b.srv.leases()
}

// WorkloadUsage measures a workload whose kind can (a container, from
// its cgroup); a VM is left to QEMU's /proc entry.
func (a *apiBox) WorkloadUsage(w api.Workload) (api.Usage, bool) {
	for _, st := range a.b.workloadStages() {
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
