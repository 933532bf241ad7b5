package platform

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// LockName is the lock file's name in this package's directory.
const LockName = "platform.lock"

//go:embed platform.lock
var embedded []byte

// Package is one pinned .deb.
type Package struct {
	Name, Version, Arch string
	// Archive is the archive's directory on the mirror: "debian" or
	// "debian-security".
	Archive string
	// Pool is the file's path in the archive (Filename in Packages).
	Pool   string
	Size   int64
	SHA256 string
	// Line is where the package is in the lock file, for errors.
	Line int
}

// ID names the package as apt does: name=version/arch.
func (p Package) ID() string { return p.Name + "=" + p.Version + "/" + p.Arch }

// Component is the archive component the package is in, read from its
// pool path (pool/COMPONENT/... or, in debian-security,
// pool/updates/COMPONENT/...): main or non-free-firmware.
func (p Package) Component() string {
	parts := strings.Split(p.Pool, "/")
	if len(parts) > 2 && parts[1] == "updates" {
		parts = parts[1:]
	}
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// Lock is a parsed lock file.
type Lock struct {
	// Source names the file in errors.
	Source string
	// Kernel is the kernel release the lock's kernel package installs
	// (6.1.0-57-amd64): /boot/vmlinuz-RELEASE, /lib/modules/RELEASE.
	Kernel   string
	Packages []Package
	// Hash is the sha256 of the file, which names the unpacked tree.
	Hash string
}

// Embedded is the lock built into this binary.
func Embedded() (*Lock, error) { return Parse(LockName, embedded) }

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	versionRE = regexp.MustCompile(`^([0-9]+:)?[A-Za-z0-9.+~-]+$`)
	hexRE     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	releaseRE = regexp.MustCompile(`^[0-9][A-Za-z0-9.+_-]*$`)
)

// Parse reads a lock file:
//
//	# comment
//	kernel 6.1.0-57-amd64
//	deb NAME VERSION ARCH ARCHIVE POOL-PATH SIZE SHA256
//
// Errors name the file, the line and the field.
func Parse(source string, data []byte) (*Lock, error) {
	sum := sha256.Sum256(data)
	l := &Lock{Source: source, Hash: hex.EncodeToString(sum[:])}
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		bad := func(field, format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s: %s", source, n, field, fmt.Sprintf(format, args...))
		}
		switch f[0] {
		case "kernel":
			if len(f) != 2 || !releaseRE.MatchString(f[1]) {
				return nil, bad("kernel", "want \"kernel RELEASE\", e.g. kernel 6.1.0-57-amd64")
			}
			if l.Kernel != "" {
				return nil, bad("kernel", "given twice")
			}
			l.Kernel = f[1]
		case "deb":
			if len(f) != 8 {
				return nil, bad("deb", "want 7 fields (NAME VERSION ARCH ARCHIVE POOL-PATH SIZE SHA256), got %d", len(f)-1)
			}
			p := Package{Name: f[1], Version: f[2], Arch: f[3], Archive: f[4], Pool: f[5], SHA256: f[7], Line: n}
			switch {
			case !nameRE.MatchString(p.Name):
				return nil, bad("name", "%q is not a Debian package name", p.Name)
			case !versionRE.MatchString(p.Version):
				return nil, bad("version", "%q is not a Debian version (package %s)", p.Version, p.Name)
			case p.Arch != "amd64" && p.Arch != "all":
				return nil, bad("arch", "%q: want amd64 or all (package %s)", p.Arch, p.Name)
			case p.Archive != "debian" && p.Archive != "debian-security":
				return nil, bad("archive", "%q: want debian or debian-security (package %s)", p.Archive, p.Name)
			case !strings.HasPrefix(p.Pool, "pool/") || !strings.HasSuffix(p.Pool, ".deb") || path.Clean(p.Pool) != p.Pool || strings.Contains(p.Pool, ".."):
				return nil, bad("pool path", "%q: want a clean pool/.../*.deb path (package %s)", p.Pool, p.Name)
			case !hexRE.MatchString(p.SHA256):
				return nil, bad("sha256", "%q is not 64 lower-case hex digits (package %s)", p.SHA256, p.Name)
			}
			size, err := strconv.ParseInt(f[6], 10, 64)
			if err != nil || size <= 0 {
				return nil, bad("size", "%q is not a positive byte count (package %s)", f[6], p.Name)
			}
			p.Size = size
			if prev, dup := seen[p.Name]; dup {
				return nil, bad("name", "package %s is already pinned on line %d", p.Name, prev)
			}
			seen[p.Name] = n
			l.Packages = append(l.Packages, p)
		default:
			return nil, bad("keyword", "unknown %q: want kernel or deb", f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if l.Kernel == "" {
		return nil, fmt.Errorf("%s: no kernel line", source)
	}
	if len(l.Packages) == 0 {
		return nil, fmt.Errorf("%s: no deb lines", source)
	}
	return l, nil
}

// Format writes the lock in the form Parse reads, packages sorted by name.
func (l *Lock) Format(w io.Writer, header []string) error {
	var b bytes.Buffer
	for _, h := range header {
		fmt.Fprintf(&b, "# %s\n", h)
	}
	fmt.Fprintf(&b, "kernel %s\n", l.Kernel)
	pkgs := append([]Package(nil), l.Packages...)
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	for _, p := range pkgs {
		fmt.Fprintf(&b, "deb %s %s %s %s %s %d %s\n", p.Name, p.Version, p.Arch, p.Archive, p.Pool, p.Size, p.SHA256)
	}
	_, err := w.Write(b.Bytes())
	return err
}
