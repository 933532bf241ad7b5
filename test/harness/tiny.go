package harness

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// Busybox is the static busybox that tiny initramfs images run.
var Busybox = "/bin/busybox"

// Tiny describes a throwaway initramfs: busybox, a shell script as /init,
// and kernel modules. It is for guests that are not the appliance: a
// guest inside the appliance, a peer on a Segment, the harness's own
// tests. Booted with the Debian kernel it reaches its script in a few
// seconds under TCG.
type Tiny struct {
	// Script is the body of /init, run by busybox sh after /proc, /sys
	// and /dev are mounted, busybox's applets are installed in /bin and
	// the modules are loaded. When it ends the guest powers off.
	Script string
	// Modules are loaded with their dependencies, in dependency order,
	// from the Debian kernel's modules.dep (e.g. virtio_net).
	Modules []string
	// LateModules are packed the same way but loaded only when the
	// script runs LoadLateModules, so that a guest does its first,
	// timed job before paying for drivers it needs only afterwards
	// (under nested TCG, the AHCI and CD-ROM drivers take a minute).
	LateModules []string
	// Files are extra files, path -> content, made executable when the
	// content starts with "#!".
	Files map[string]string
}

const tinyPrologue = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /run
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
`

// LoadLateModules is the command a Tiny script runs to load its
// LateModules.
const LoadLateModules = "/bin/load-late-modules"

// TinyInitramfs writes the initramfs t describes into the test's temporary
// directory and returns its path (gzip-compressed newc cpio, which the
// Debian kernel unpacks without help).
func TinyInitramfs(tb testing.TB, t Tiny) string {
	tb.Helper()
	k, err := DebianKernel()
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(tb.TempDir(), "tiny.cpio.gz")
	if err := writeTiny(p, t, k); err != nil {
		tb.Fatalf("tiny initramfs: %v", err)
	}
	return p
}

func writeTiny(path string, t Tiny, k Kernel) error {
	bb, err := os.ReadFile(Busybox)
	if err != nil {
		return err
	}
	mods, err := moduleLoadOrder(k.Modules, t.Modules)
	if err != nil {
		return err
	}
	late, err := moduleLoadOrder(k.Modules, append(append([]string(nil), t.Modules...), t.LateModules...))
	if err != nil {
		return err
	}
	late = late[len(mods):]
	var init strings.Builder
	init.WriteString(tinyPrologue)
	recs := []cpio.Record{
		cpio.StaticFile("bin/busybox", string(bb), 0o755),
		cpio.Directory("lib/modules", 0o755),
	}
	for _, m := range mods {
		b, err := os.ReadFile(filepath.Join(k.Modules, m))
		if err != nil {
			return err
		}
		name := "lib/modules/" + filepath.Base(m)
		recs = append(recs, cpio.StaticFile(name, string(b), 0o644))
		fmt.Fprintf(&init, "insmod /%s\n", name)
	}
	if len(t.LateModules) > 0 {
		load := "#!/bin/busybox sh\n"
		for _, m := range late {
			b, err := os.ReadFile(filepath.Join(k.Modules, m))
			if err != nil {
				return err
			}
			name := "lib/modules/" + filepath.Base(m)
			recs = append(recs, cpio.StaticFile(name, string(b), 0o644))
			load += fmt.Sprintf("insmod /%s\n", name)
		}
		recs = append(recs, cpio.StaticFile(strings.TrimPrefix(LoadLateModules, "/"), load, 0o755))
	}
	init.WriteString(t.Script)
	init.WriteString("\npoweroff -f\n")
	recs = append(recs, cpio.StaticFile("init", init.String(), 0o755))
	names := make([]string, 0, len(t.Files))
	for n := range t.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		perm := uint64(0o644)
		if strings.HasPrefix(t.Files[n], "#!") {
			perm = 0o755
		}
		recs = append(recs, cpio.StaticFile(strings.TrimPrefix(n, "/"), t.Files[n], perm))
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	w := cpio.Newc.Writer(zw)
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		f.Close()
		return err
	}
	if err := cpio.WriteTrailer(w); err != nil {
		f.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// moduleLoadOrder resolves modules and their dependencies to .ko paths
// relative to dir, each after everything it needs. Built-in modules are
// skipped.
func moduleLoadOrder(dir string, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	deps := map[string][]string{} // module name -> its .ko and deps' .ko paths
	byName := map[string]string{}
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		ko, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n := modName(ko)
		byName[n] = ko
		deps[ko] = strings.Fields(rest)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[modName(l)] = true
		}
	}

	var order []string
	seen := map[string]bool{}
	var visit func(ko string)
	visit = func(ko string) {
		if seen[ko] {
			return
		}
		seen[ko] = true
		for _, d := range deps[ko] {
			visit(d)
		}
		order = append(order, ko)
	}
	for _, n := range names {
		n = strings.ReplaceAll(n, "-", "_")
		ko, ok := byName[n]
		if !ok {
			if builtin[n] {
				continue
			}
			return nil, fmt.Errorf("module %s: not in %s/modules.dep", n, dir)
		}
		visit(ko)
	}
	return order, nil
}

func modName(ko string) string {
	n := filepath.Base(ko)
	if i := strings.Index(n, ".ko"); i >= 0 {
		n = n[:i]
	}
	return strings.ReplaceAll(n, "-", "_")
}
