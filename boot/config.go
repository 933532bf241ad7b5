package boot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nucbox/nucbox/boot/box"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/internal/inject"
)

// The config phase: the config is read once, from the first source that
// yields a valid one (configsource.go); without one the box goes into
// maintenance mode, and a config URL is tried again in the background.

// readConfig tries the config sources in order (see configSources) and
// returns the first valid config. Sources that fail are logged and
// skipped; when none is usable the error is the first failure's, which
// is usually the one the user meant to be read.
func readConfig(cl Cmdline, clErr error, lastGoodPath string) (box.ConfigRecord, *config.Config, error) {
	if clErr != nil {
		return box.ConfigRecord{Source: "/proc/cmdline"}, nil, clErr
	}
	srcs, err := configSources(cl, lastGoodPath)
	if err != nil {
		return box.ConfigRecord{Source: "kernel command line"}, nil, err
	}
	var (
		first    error
		firstRec box.ConfigRecord
		tried    []string
	)
	for i, src := range srcs {
		tried = append(tried, src.String())
		name, data, err := src.Fetch(context.Background())
		rec := box.NewConfigRecord(name, data)
		if err == nil {
			var cfg *config.Config
			if cfg, err = config.Parse(name, data); err == nil {
				if first != nil {
					Logf("config: using %s instead", name)
				}
				return rec, cfg, nil
			}
			err = &configError{err}
		}
		if errors.Is(err, errNoConfig) {
			continue
		}
		if first == nil {
			first, firstRec = err, rec
		}
		if i == len(srcs)-1 {
			break // the failure report shows it
		}
		lines := errorLines(err)
		Logf("config: %s is unusable, trying the next source: %s", name, lines[0])
		for _, l := range lines[1:] {
			Logf("    %s", l)
		}
	}
	if first == nil {
		return box.ConfigRecord{Source: strings.Join(tried, ", ")}, nil,
			fmt.Errorf("no config: none of %s exists", strings.Join(tried, ", "))
	}
	return firstRec, nil, first
}

// configError marks errors from parsing and validating the config, as
// opposed to not finding it.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// enterMaintenance runs b in maintenance mode (see box.EnterMaintenance)
// for want of a config (why). A config URL from the kernel command line
// is retried in the background, so a rack machine booted before its
// config was written picks it up by itself.
func (p *pid1) enterMaintenance(b *box.Box, why string) {
	bootif, _ := p.cl.Get("BOOTIF")
	if err := b.EnterMaintenance(why, parseBootIf(bootif)); err != nil {
		return
	}
	if spec, _ := p.cl.Get("nucbox.config"); strings.Contains(spec, "://") {
		goLoop("maintenance", func() { retryConfigURL(b, p.cl) })
	}
}

// retryConfigURL keeps fetching the kernel command line's config URL while
// the box is in maintenance mode and applies the first valid config.
func retryConfigURL(b *box.Box, cl Cmdline) {
	spec, _ := cl.Get("nucbox.config")
	src, err := cmdlineSource(cl, spec)
	if err != nil {
		return
	}
	u, ok := src.(*urlSource)
	if !ok {
		return
	}
	// The box's own network is up now: no temporary lease.
	u.lease = func(context.Context, string) (bootLease, error) { return runningLease{b}, nil }
	configRetry{
		first:   30 * time.Second,
		fetch:   u.Fetch,
		waiting: func() bool { return b.Status().Phase == "maintenance" },
		apply: func(name string, data []byte) error {
			_, err := b.Apply(context.Background(), box.NewConfigRecord(name, data), 0)
			return err
		},
	}.run()
}

// configRetry is the maintenance mode's loop: it fetches, checks and
// applies a config, waiting longer after each failure, while the box
// is still waiting for one.
type configRetry struct {
	first   time.Duration
	fetch   func(context.Context) (string, []byte, error)
	waiting func() bool
	apply   func(name string, data []byte) error
}

func (r configRetry) run() {
	for wait := r.first; ; wait = min(2*wait, 5*time.Minute) {
		time.Sleep(wait)
		if !r.waiting() {
			return
		}
		inject.Point("maintenance.retry")
		name, data, err := r.fetch(context.Background())
		if err != nil {
			Logf("maintenance: %v; next try in %s", err, min(2*wait, 5*time.Minute))
			continue
		}
		if _, err := config.Parse(name, data); err != nil {
			Logf("maintenance: %s is invalid: %v", name, err)
			continue
		}
		if err := r.apply(name, data); err != nil {
			Logf("maintenance: applying %s: %v", name, err)
			continue
		}
		return
	}
}

// runningLease fills the URL template from the box's running network.
type runningLease struct{ b *box.Box }

func (l runningLease) Vars() map[string]string {
	v := map[string]string{"uuid": machineUUID(), "hostname": box.DefaultHostname}
	if st := l.b.Network(); st != nil {
		v["mac"] = st.UplinkMAC.String()
		if st.Lease != nil && st.Lease.Hostname != "" {
			v["hostname"] = st.Lease.Hostname
		}
	}
	return v
}

// NTP is nil: the running box's time stage keeps the clock.
func (runningLease) NTP() []string { return nil }

func (runningLease) Close() error { return nil }
