package vmm

import (
	"context"
	"os"
	"time"
)

// killWait bounds the wait for a QEMU after SIGKILL. Only a process stuck
// in the kernel (an I/O on a dead disk) outlives it.
const killWait = 30 * time.Second

// shutdown stops a running guest for Stop, ctx bounding the powerdown.
func (g *Guest) shutdown(ctx context.Context, p *proc) {
	g.update(func(st *Status) { st.State = StateStopping })
	if ctx == nil {
		ctx = context.Background()
	}
	start := time.Now()
	by := stopQEMU(ctx, p, g.spec.ShutdownTimeout, g.opts.QuitTimeout, g.log.Warn)
	gone := waitExit(context.Background(), p, 0)
	p.mon.close()
	g.mu.Lock()
	g.cur = nil
	g.st.State, g.st.StoppedBy = StateStopped, by
	if gone {
		g.st.PID, g.st.LastExit, g.st.QMPStatus = 0, describeExit(p.waitErr), ""
	}
	g.mu.Unlock()
	if gone {
		os.Remove(g.spec.Paths().PID)
	}
	g.log.Info("VM stopped", "by", by, "took", time.Since(start).Round(time.Millisecond))
}

// stopQEMU ends p the way a host ends a machine: the ACPI power button,
// so the guest flushes its disks and powers off; then QMP quit, which
// stops QEMU at once but still closes its images cleanly; then SIGKILL for
// a QEMU that no longer answers. ctx (and timeout, whichever ends first)
// bounds the first step only: the later steps must run even when the
// caller is out of time, or QEMU would outlive nucbox's shutdown.
// It returns the step that ended QEMU: powerdown, quit or kill.
func stopQEMU(ctx context.Context, p *proc, timeout, quitTimeout time.Duration, warn func(string, ...any)) string {
	if waitExit(ctx, p, 0) {
		return "exited"
	}
	if p.mon != nil {
		// The powerdown command gets the monitor's own timeout, not ctx: a
		// command cut short closes the monitor, and quit needs it next.
		if ctx.Err() == nil {
			start := time.Now()
			pctx, cancel := context.WithTimeout(ctx, timeout)
			err := p.mon.run(context.Background(), "system_powerdown", nil, nil)
			if err == nil && waitExit(pctx, p, timeout) {
				cancel()
				return "powerdown"
			}
			cancel()
			if err != nil {
				warn("ACPI powerdown failed", "err", err)
			} else {
				warn("guest did not power off; quitting QEMU", "waited", time.Since(start).Round(time.Millisecond))
			}
		}
		qctx, cancel := context.WithTimeout(context.Background(), quitTimeout)
		err := p.mon.quit(qctx)
		if err == nil && waitExit(qctx, p, quitTimeout) {
			cancel()
			return "quit"
		}
		cancel()
		if err != nil {
			warn("QMP quit failed; killing QEMU", "err", err)
		} else {
			warn("QEMU did not quit; killing it", "waited", quitTimeout)
		}
	}
	p.cmd.Process.Kill()
	waitExit(context.Background(), p, killWait)
	return "kill"
}

// waitExit waits up to d (0: just look) for p to exit, or until ctx ends.
func waitExit(ctx context.Context, p *proc, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-p.exited:
			return true
		default:
			return false
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		select {
		case <-p.exited:
			return true
		default:
			return false
		}
	}
}
