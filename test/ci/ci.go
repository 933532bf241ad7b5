package ci

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Var is the environment variable that turns a missing prerequisite from
// a skip into a failure.
const Var = "CI"

// Enforced reports whether this run must not skip for a missing
// prerequisite: CI is set to anything but "", "false" or "0", in any
// case. CI providers set CI=true; some set CI=1 or CI=yes.
func Enforced() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(Var))) {
	case "", "false", "0":
		return false
	}
	return true
}

// Missing ends tb because a prerequisite is missing. The message says
// what is missing and how to get it ("qemu-img not found (Debian package
// qemu-utils, make deps installs it)"). Without CI the test skips; under
// CI it fails with the same message.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if Enforced() {
		tb.Fatalf("missing prerequisite: %s [%s=%s: a missing prerequisite fails the run]", msg, Var, os.Getenv(Var))
		return
	}
	tb.Skipf("missing prerequisite: %s [skipped; with %s=true this fails]", msg, Var)
}

// Require calls Missing unless ok.
func Require(tb testing.TB, ok bool, format string, args ...any) {
	tb.Helper()
	if !ok {
		Missing(tb, format, args...)
	}
}

// HostLacks skips tb because the host kernel cannot do what it checks,
// whatever CI says: installing a package would not help, and the tier
// named in the message covers it ("bridge VLAN filtering (...); the QEMU
// tier covers it"). It is not for prerequisites: those go to Missing.
func HostLacks(tb testing.TB, format string, args ...any) {
	tb.Helper()
	tb.Skipf("host limitation, not a missing prerequisite: %s [skipped, under CI too]", fmt.Sprintf(format, args...))
}

// ShortMode skips tb in -short mode, which asks for the fast tiers only;
// under CI too, since -short is asked for explicitly (make test does not).
func ShortMode(tb testing.TB, what string) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("%s: skipped in -short mode", what)
	}
}
