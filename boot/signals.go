package boot

import (
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// handleSignals turns signals into shutdowns. The kernel delivers to PID 1
// only the signals it has handlers for, and Go's default for SIGTERM,
// SIGINT, SIGHUP and SIGQUIT is to exit, which would panic the kernel, so
// every one of them is caught here.
func (p *pid1) handleSignals() {
	// Ctrl-Alt-Del would reboot at once; instead the kernel sends SIGINT,
	// which shuts down in order.
	unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)

	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGPWR, syscall.SIGHUP, syscall.SIGQUIT)
	goForever("signals", func() {
		for s := range ch {
			p.handleSignal(s)
		}
	})
}

func (p *pid1) handleSignal(s os.Signal) {
	switch s {
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGPWR:
		p.shutdown(PowerOff, "signal "+unix.SignalName(s.(syscall.Signal)))
	case syscall.SIGUSR2:
		p.shutdown(Reboot, "signal SIGUSR2")
	case syscall.SIGQUIT:
		// A way to see what a stuck PID 1 is doing without killing it.
		buf := make([]byte, 1<<20)
		Logf("SIGQUIT: goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	default:
		Logf("ignoring signal %v", s)
	}
}
