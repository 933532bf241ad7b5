package containers

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The overlay libcontainer seals the init's binary with works for two
// unrelated directories and fails, as it does in libcontainer, when the
// state directory is inside the binary's directory on the same mount.
func TestOverlaySealCheck(t *testing.T) {
	requireRoot(t)
	bin, run := t.TempDir(), t.TempDir()
	if err := overlaySealCheck(bin, run); err != nil {
		t.Fatalf("separate directories: %v", err)
	}
	nested := filepath.Join(bin, "run")
	if err := os.Mkdir(nested, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := overlaySealCheck(bin, nested); !errors.Is(err, unix.ELOOP) {
		t.Fatalf("state inside the binary's directory: got %v, want ELOOP", err)
	}
	// This test binary, as the container init of the host-tier tests.
	t.Logf("sealCheck(%s): %v", run, sealCheck(run))
}
