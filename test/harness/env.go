package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unicode"

	"github.com/nucbox/nucbox/internal/natsort"
	"github.com/nucbox/nucbox/test/ci"
)

// QEMU is the emulator every machine runs in.
const QEMU = "qemu-system-x86_64"

// requireMessage is what a skipped QEMU test says, so that a developer
// without the prerequisites knows both how to get them and how CI treats
// their absence.
const requireMessage = "needs root and qemu-system-x86_64 and the Debian kernel (make deps); set CI=true to make this a failure"

// Require skips the test when the machine cannot run QEMU tests, or fails
// it when CI is set: in CI a missing prerequisite is a broken machine, and a
// green run made of skips would hide it.
func Require(tb testing.TB) {
	tb.Helper()
	if missing := missingPrereqs(); len(missing) > 0 {
		ci.Missing(tb, "%s (missing: %s)", requireMessage, strings.Join(missing, "; "))
	}
}

func missingPrereqs() []string {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "not root")
	}
	if _, err := exec.LookPath(QEMU); err != nil {
		missing = append(missing, QEMU+" not in PATH")
	}
	if _, err := os.Stat(Busybox); err != nil {
		missing = append(missing, "static busybox: "+err.Error())
	}
	k, err := DebianKernel()
	if err != nil {
		missing = append(missing, err.Error())
	} else if _, err := os.Stat(k.Modules); err != nil {
		missing = append(missing, "modules of "+k.Version+": "+err.Error())
	}
	return missing
}

// Kernel is the host's Debian kernel, booted by every test machine: the
// appliance ships it, and VLAN filtering only works in it (see
// ENVIRONMENT.md).
type Kernel struct {
	Path    string // the vmlinuz file
	Version string // uname -r of that kernel, e.g. 6.1.0-56-amd64
	Modules string // /lib/modules/<Version>
}

var (
	kernelOnce sync.Once
	kernel     Kernel
	kernelErr  error
)

// DebianKernel returns the newest /boot/vmlinuz-*-amd64, or the kernel named
// by $NUCBOX_KERNEL (with its modules in $NUCBOX_MODULES, or derived from
// its file name) for trying another kernel without installing it.
func DebianKernel() (Kernel, error) {
	kernelOnce.Do(func() {
		if p := os.Getenv("NUCBOX_KERNEL"); p != "" {
			kernel, kernelErr = kernelAt(p, os.Getenv("NUCBOX_MODULES"))
			return
		}
		kernel, kernelErr = newestKernel("/boot", "/lib/modules")
	})
	return kernel, kernelErr
}

func kernelAt(path, modules string) (Kernel, error) {
	if _, err := os.Stat(path); err != nil {
		return Kernel{}, fmt.Errorf("kernel: %w", err)
	}
	v := strings.TrimPrefix(filepath.Base(path), "vmlinuz-")
	if modules == "" {
		modules = filepath.Join("/lib/modules", v)
	}
	return Kernel{Path: path, Version: v, Modules: modules}, nil
}

func newestKernel(bootDir, modulesDir string) (Kernel, error) {
	paths, _ := filepath.Glob(filepath.Join(bootDir, "vmlinuz-*-amd64"))
	if len(paths) == 0 {
		return Kernel{}, errors.New("no " + bootDir + "/vmlinuz-*-amd64 (apt-get install linux-image-amd64)")
	}
	best := paths[0]
	for _, p := range paths[1:] {
		if natsort.Less(filepath.Base(best), filepath.Base(p)) {
			best = p
		}
	}
	v := strings.TrimPrefix(filepath.Base(best), "vmlinuz-")
	return Kernel{Path: best, Version: v, Modules: filepath.Join(modulesDir, v)}, nil
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// RepoRoot is the directory of the nucbox module. Tests run in their
// package directory, so it is found by walking up to go.mod.
func RepoRoot() (string, error) {
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/nucbox/nucbox\n") {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("not inside the nucbox module (no go.mod of github.com/nucbox/nucbox above the working directory)")
				return
			}
			dir = parent
		}
	})
	return rootDir, rootErr
}

// fromRoot resolves a relative path from the repository root: go test runs
// each package in its own directory, but a path in the environment is
// written from where make runs.
func fromRoot(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	if root, err := RepoRoot(); err == nil {
		return filepath.Join(root, p)
	}
	return p
}

// ArtifactsDir is where a test keeps what a human wants after a failure
// (console logs, packet captures). With $NUCBOX_ARTIFACTS set it is a
// directory per test below it that outlives the run (CI uploads it);
// otherwise it is a temporary directory removed with the test, since the
// console is in the test log anyway. A relative $NUCBOX_ARTIFACTS is taken
// from the repository root.
func ArtifactsDir(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("NUCBOX_ARTIFACTS")
	if base == "" {
		return tempDirOnce(tb)
	}
	base = fromRoot(base)
	dir := filepath.Join(base, safeName(tb.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatalf("artifacts: %v", err)
	}
	return dir
}

var tempDirs sync.Map // testing.TB -> string

func tempDirOnce(tb testing.TB) string {
	if d, ok := tempDirs.Load(tb); ok {
		return d.(string)
	}
	d := tb.TempDir()
	tempDirs.Store(tb, d)
	tb.Cleanup(func() { tempDirs.Delete(tb) })
	return d
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

var sweepOnce sync.Once

// socketDir makes a directory for unix sockets. Socket paths are limited to
// 108 bytes, which a test's TempDir can exceed, so they live in short
// directories of their own, named after the test process: a run killed by
// go test's -timeout skips every cleanup, and the next run removes what
// such dead processes left behind.
func socketDir(kind string) (string, error) {
	sweepOnce.Do(sweepSocketDirs)
	return os.MkdirTemp("", fmt.Sprintf("nbx%d-%s", os.Getpid(), kind))
}

func sweepSocketDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "nbx*-*"))
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(d), "nbx%d-", &pid); err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// logInfo logs what helps read a test's log but is no result. Benchmarks
// skip it: their log is always printed and cut to its first ten lines, which
// belong to the figures the benchmark reports.
func logInfo(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if _, bench := tb.(*testing.B); bench {
		return
	}
	tb.Logf(format, args...)
}
