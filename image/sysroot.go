package image

import (
	"debug/elf"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// sysroot is where the build's own programs come from: "" for the host,
// or a directory standing for / (an unpacked pinned platform, package
// platform). Paths are given as the image sees them (/usr/bin/qemu-img)
// and resolved inside the root, absolute symlinks included, so a platform
// never reaches into the host it is built on.
type sysroot string

// resolve follows symlinks in p inside the root and returns the image
// path of what p finally names and that file's host path.
func (r sysroot) resolve(p string) (imagePath, hostPath string, err error) {
	if r == "" {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", "", err
		}
		return real, real, nil
	}
	cur := "/"
	rest := strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		host := filepath.Join(string(r), filepath.FromSlash(next))
		fi, err := os.Lstat(host)
		if err != nil {
			return "", "", fmt.Errorf("%s in the platform: %w", p, err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", "", fmt.Errorf("%s in the platform: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(host)
		if err != nil {
			return "", "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, filepath.Join(string(r), filepath.FromSlash(cur)), nil
}

// from is where a program or file the build takes by default comes
// from: the root, unless the caller named a host file explicitly.
func (o Options) from(explicit string) sysroot {
	if explicit != "" {
		return ""
	}
	return sysroot(o.Root)
}

// host is the host path of p, symlinks resolved in the root.
func (r sysroot) host(p string) (string, error) {
	_, h, err := r.resolve(p)
	return h, err
}

// exists reports whether p resolves in the root.
func (r sysroot) exists(p string) bool {
	_, err := r.host(p)
	return err == nil
}

// libDirs are where Debian's dynamic loader looks on x86_64 without a
// cache: the multiarch directories, then the old ones.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// addRootBinary adds the program at image path p from the root, with the
// shared libraries and loader it needs found in the root by reading ELF
// headers, as the loader would: nothing of the platform is run.
func (t *tree) addRootBinary(r sysroot, p string, perm uint64, origin string) (int, error) {
	if r == "" {
		return t.addBinary(p, p, perm, origin)
	}
	host, err := r.host(p)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", origin, err)
	}
	if err := t.hostFile(p, host, perm, origin); err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	return t.addRootLibraries(r, p, host, origin, seen)
}

func (t *tree) addRootLibraries(r sysroot, imagePath, host, origin string, seen map[string]bool) (int, error) {
	f, err := elf.Open(host)
	if err != nil {
		return 0, nil // not ELF: a script has no libraries
	}
	defer f.Close()
	var wanted []string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return 0, fmt.Errorf("%s: interpreter of %s: %w", origin, imagePath, err)
			}
			wanted = append(wanted, strings.TrimRight(string(b), "\x00"))
		}
	}
	needed, _ := f.ImportedLibraries()
	var search []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		vals, _ := f.DynString(tag)
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				search = append(search, strings.ReplaceAll(d, "$ORIGIN", path.Dir(imagePath)))
			}
		}
	}
	search = append(search, libDirs...)
	for _, lib := range needed {
		found := ""
		for _, d := range search {
			if c := path.Join(d, lib); r.exists(c) {
				found = c
				break
			}
		}
		if found == "" {
			return 0, fmt.Errorf("%s: %s needs %s, which the platform does not have (is its package in the lock?)", origin, imagePath, lib)
		}
		wanted = append(wanted, found)
	}
	sort.Strings(wanted)
	n := 0
	libOrigin := "shared library of " + origin
	for _, lib := range wanted {
		if seen[lib] {
			continue
		}
		seen[lib] = true
		real, host, err := r.resolve(lib)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", libOrigin, err)
		}
		if real != lib {
			// Keep the loader's name as a link to the file, as Debian
			// has it; resolveLinks copies it should the target move.
			rel, err := filepath.Rel(path.Dir(lib), real)
			if err != nil {
				rel = real
			}
			if err := t.add(lib, &entry{mode: symlinkMode, link: filepath.ToSlash(rel), src: host, origin: libOrigin}); err != nil {
				return 0, err
			}
		}
		if seen[real] && real != lib {
			continue
		}
		seen[real] = true
		if err := t.hostFile(real, host, 0, libOrigin); err != nil {
			return 0, err
		}
		n++
		m, err := t.addRootLibraries(r, real, host, origin, seen)
		if err != nil {
			return 0, err
		}
		n += m
	}
	return n, nil
}
