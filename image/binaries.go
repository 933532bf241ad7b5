package image

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
	"github.com/u-root/u-root/pkg/ldd"
)

// addBinary puts the host executable src at name in the image, followed by
// the shared libraries and dynamic loader it needs, at their host paths.
// It returns how many library files came along.
func (t *tree) addBinary(name, src string, perm uint64, origin string) (int, error) {
	if err := t.hostFile(name, src, perm, origin); err != nil {
		return 0, err
	}
	return t.addLibraries(src, origin)
}

// addLibraries adds what the dynamic loader would map for src. Symlinks
// in the loader's answer (libfoo.so.1 -> libfoo.so.1.2.3, /lib64/ld-linux
// -> ...) are kept as links; resolveLinks later turns any link whose
// target did not come along into a copy.
func (t *tree) addLibraries(src, origin string) (int, error) {
	if !needsLibraries(src) {
		return 0, nil
	}
	libs, err := ldd.FList(src)
	if err != nil {
		return 0, fmt.Errorf("%s: finding shared libraries of %s: %w", origin, src, err)
	}
	sort.Strings(libs)
	n := 0
	libOrigin := "shared library of " + origin
	for _, lib := range libs {
		fi, err := os.Lstat(lib)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", libOrigin, err)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(lib)
			if err != nil {
				return 0, err
			}
			e := &entry{mode: symlinkMode, link: target, src: lib, origin: libOrigin}
			if err := t.add(lib, e); err != nil {
				return 0, err
			}
			continue
		}
		if err := t.hostFile(lib, lib, 0, libOrigin); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

const symlinkMode = cpio.S_IFLNK | 0o777

// needsLibraries reports whether src is an ELF file that the dynamic
// loader has work for. Static executables (nucbox and busybox normally
// are) and non-ELF files are answered here, without running the host's
// loader on them: ldd would pick a loader by guesswork for a static-pie
// file, which looks like a shared library.
func needsLibraries(src string) bool {
	f, err := elf.Open(src)
	if err != nil {
		return false // not ELF: a script or data file has no libraries
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	libs, err := f.ImportedLibraries()
	return err == nil && len(libs) > 0
}

// busyboxSkip are applets that must not be linked: /init is nucbox, and a
// busybox init or linuxrc would be run by the kernel as a fallback init
// with behaviour nobody expects from this image. Without them a broken
// /init falls through to /bin/sh, which is the rescue shell anyway.
var busyboxSkip = map[string]bool{"init": true, "linuxrc": true, "busybox": true}

// powerApplets are linked to /init instead of busybox: busybox's versions
// signal PID 1 with busybox init's conventions (poweroff is SIGUSR2), which
// nucbox's PID 1 reads as reboot. nucbox answers to these names itself.
var powerApplets = map[string]bool{"poweroff": true, "reboot": true, "halt": true}

// addBusybox adds busybox at /bin/busybox and a link for every applet the
// given binary was built with, where its own --list-full says it belongs.
func (t *tree) addBusybox(ctx context.Context, r sysroot, src string) (applets int, libs int, err error) {
	host, err := r.host(src)
	if err == nil {
		_, err = os.Stat(host)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("busybox for the rescue shell: %w (install busybox-static or pass its path)", err)
	}
	// Running it is safe in a platform too: busybox-static needs no
	// libraries.
	list, err := busyboxApplets(ctx, host)
	if err != nil {
		return 0, 0, err
	}
	if err := t.hostFile("bin/busybox", host, 0o755, "busybox "+src); err != nil {
		return 0, 0, err
	}
	if r == "" {
		libs, err = t.addLibraries(host, "busybox "+src)
	} else {
		libs, err = t.addRootLibraries(r, src, host, "busybox "+src, map[string]bool{})
	}
	if err != nil {
		return 0, 0, err
	}
	for _, p := range list {
		if busyboxSkip[path.Base(p)] {
			continue
		}
		target := "/bin/busybox"
		if powerApplets[path.Base(p)] {
			target = "/init"
		}
		e := &entry{mode: symlinkMode, link: target, origin: "busybox applet", weak: true}
		if err := t.add(p, e); err != nil {
			return 0, 0, err
		}
		applets++
	}
	return applets, libs, nil
}

// busyboxApplets asks the binary for its applets with their install paths
// (bin/sh, sbin/ip, usr/bin/awk); builds without --list-full get every
// applet in /bin.
func busyboxApplets(ctx context.Context, bb string) ([]string, error) {
	out, err := exec.CommandContext(ctx, bb, "--list-full").Output()
	full := err == nil
	if !full {
		out, err = exec.CommandContext(ctx, bb, "--list").Output()
		if err != nil {
			return nil, fmt.Errorf("listing busybox applets with %s --list: %w", bb, err)
		}
	}
	var list []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		a := strings.TrimSpace(sc.Text())
		if a == "" || strings.ContainsAny(a, " \t") {
			continue
		}
		if !full {
			a = "bin/" + a
		}
		list = append(list, a)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s lists no applets; is it busybox?", bb)
	}
	return list, nil
}

// addHostPath adds a host file, or a directory tree, at name. Symlinks are
// followed everywhere and their targets' contents copied: QEMU's firmware
// directory, for instance, is mostly links into other packages.
func (t *tree) addHostPath(name, src, origin string) (int, error) {
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", origin, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", origin, err)
	}
	if !fi.IsDir() {
		return 1, t.hostFile(name, real, 0, origin)
	}
	return t.addHostDir(name, real, origin, map[string]bool{})
}

func (t *tree) addHostDir(name, dir, origin string, visiting map[string]bool) (int, error) {
	if visiting[dir] {
		return 0, fmt.Errorf("%s: directory loop through symlinks at %s", origin, dir)
	}
	visiting[dir] = true
	defer delete(visiting, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, err
	}
	if err := t.dir(name, uint64(fi.Mode().Perm()), origin); err != nil {
		return 0, err
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", origin, err)
	}
	n := 0
	for _, de := range des {
		src := filepath.Join(dir, de.Name())
		real, err := filepath.EvalSymlinks(src)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", origin, err)
		}
		st, err := os.Stat(real)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", origin, err)
		}
		dst := path.Join(name, de.Name())
		if st.IsDir() {
			c, err := t.addHostDir(dst, real, origin, visiting)
			if err != nil {
				return 0, err
			}
			n += c
			continue
		}
		if !st.Mode().IsRegular() {
			continue // sockets and device nodes do not belong in an image
		}
		if err := t.hostFile(dst, real, 0, origin); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}
