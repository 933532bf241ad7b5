package main

import (
	"fmt"
	"syscall"
)

// powerSignals are the signals nucbox's PID 1 reads as power requests. The
// image links poweroff, reboot and halt to nucbox so that the rescue shell's
// commands mean what they say; busybox's own applets use busybox init's
// signals, where SIGUSR2 is power off but nucbox reads it as reboot.
var powerSignals = map[string]syscall.Signal{
	"poweroff": syscall.SIGTERM,
	"halt":     syscall.SIGTERM, // the box has no halted state worth staying in
	"reboot":   syscall.SIGUSR2,
}

// signalInit asks PID 1 for an orderly power off or reboot. Flags such as
// busybox's -f are accepted and ignored: PID 1 always shuts down in order.
func signalInit(name string) error {
	sig, ok := powerSignals[name]
	if !ok {
		return fmt.Errorf("unknown power command %q", name)
	}
	if err := syscall.Kill(1, sig); err != nil {
		return fmt.Errorf("signalling PID 1: %w", err)
	}
	return nil
}
