package platform

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

// root is a package the platform starts from. With deps, everything it
// Depends or Pre-Depends on comes too (its libraries); without, only the
// package: a kernel's or CA bundle's dependencies are tools for their
// maintainer scripts, which the platform does not run.
type root struct {
	name string
	deps bool
}

// roots are what an image build takes from Debian. The kernel is found
// through the linux-image-amd64 metapackage, which names the current ABI.
var roots = []root{
	{"busybox-static", false},
	{"qemu-system-x86", true},
	{"qemu-utils", true},
	{"e2fsprogs", true},
	{"systemd-boot-efi", false},
	{"ipxe-qemu", false},
	{"seabios", false},
	{"ca-certificates", false},
	// The CPU microcode (non-free-firmware) for the UKI's .ucode. Both
	// depend on iucode-tool, which only their initramfs hooks run.
	{"intel-microcode", false},
	{"amd64-microcode", false},
}

// skipDeps are dependencies of the roots that no image file needs: they
// serve maintainer scripts (debconf, adduser) or are daemons' helpers. The
// image builder fails when a program lacks a library, so leaving out too
// much shows at build time.
var skipDeps = map[string]bool{
	"debconf": true, "adduser": true, "dpkg": true, "perl-base": true, "passwd": true,
	"init-system-helpers": true, "lsb-base": true, "sysvinit-utils": true, "logsave": true,
	"debianutils": true, "libc-bin": true, "ucf": true, "coreutils": true,
	"libpam-runtime": true, "libpam-modules": true, "libpam-modules-bin": true,
	"libsemanage2": true, "libsemanage-common": true, "libaudit-common": true,
	"acl": true, "systemd": true, "systemd-sysv": true, "libpam0g": true, "libaudit1": true,
	"mount": true, "util-linux": true, "bash": true,
}

var kernelDepRE = regexp.MustCompile(`^linux-image-([0-9][^ ]*-amd64)$`)

// Generate resolves the roots against the archive's indexes (Components
// of DefaultSuites) at mirror and returns the lock with a header saying
// which releases it came from.
func Generate(ctx context.Context, client *http.Client, mirror string) (*Lock, []string, error) {
	if client == nil {
		client = http.DefaultClient
	}
	idx, err := loadIndex(ctx, client, mirror, DefaultSuites)
	if err != nil {
		return nil, nil, err
	}
	meta, ok := idx.pkgs["linux-image-amd64"]
	if !ok {
		return nil, nil, fmt.Errorf("the archive has no linux-image-amd64")
	}
	kernelPkg := ""
	for _, d := range splitList(meta.stanza["Depends"]) {
		if m := kernelDepRE.FindStringSubmatch(d); m != nil {
			kernelPkg = d
		}
	}
	if kernelPkg == "" {
		return nil, nil, fmt.Errorf("linux-image-amd64 %s depends on no linux-image-RELEASE-amd64", meta.stanza["Version"])
	}
	l := &Lock{Kernel: strings.TrimPrefix(kernelPkg, "linux-image-")}
	all := append([]root{{kernelPkg, false}}, roots...)
	chosen := map[string]indexed{}
	var visit func(name string, deps bool, from string) error
	visit = func(name string, deps bool, from string) error {
		p, ok := idx.resolve(name)
		if !ok {
			return fmt.Errorf("%s: the archive has no package %s", from, name)
		}
		real := p.stanza["Package"]
		if _, done := chosen[real]; done {
			return nil
		}
		chosen[real] = p
		if !deps {
			return nil
		}
		for _, field := range []string{"Pre-Depends", "Depends"} {
			for _, d := range splitList(p.stanza[field]) {
				if skipDeps[d] {
					continue
				}
				if err := visit(d, true, real); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, r := range all {
		if err := visit(r.name, r.deps, "root"); err != nil {
			return nil, nil, err
		}
	}
	names := make([]string, 0, len(chosen))
	for n := range chosen {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, err := idx.pin(chosen[n])
		if err != nil {
			return nil, nil, err
		}
		l.Packages = append(l.Packages, p)
	}
	header := []string{
		"nucbox pinned platform: the Debian packages `nucbox image build` builds from without --kernel.",
		"Regenerate on any machine that reaches the archive: nucbox image lock > image/platform/platform.lock",
		"Format: kernel RELEASE; deb NAME VERSION ARCH ARCHIVE POOL-PATH SIZE SHA256.",
		"Resolved from (components " + strings.Join(Components, ", ") + "):",
	}
	for _, r := range idx.releases {
		header = append(header, "  "+r)
	}
	return l, header, nil
}

// Check compares a lock with what the archive serves now and lists the
// packages whose pinned version, path or hash is no longer the newest.
func Check(ctx context.Context, client *http.Client, mirror string, l *Lock) ([]string, error) {
	fresh, _, err := Generate(ctx, client, mirror)
	if err != nil {
		return nil, err
	}
	now := map[string]Package{}
	for _, p := range fresh.Packages {
		now[p.Name] = p
	}
	var diffs []string
	for _, p := range l.Packages {
		n, ok := now[p.Name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: no longer part of the platform", p.ID()))
		case n.Version != p.Version || n.SHA256 != p.SHA256 || n.Pool != p.Pool:
			diffs = append(diffs, fmt.Sprintf("%s: the archive now has %s", p.ID(), n.ID()))
		}
		delete(now, p.Name)
	}
	for _, n := range now {
		diffs = append(diffs, fmt.Sprintf("%s: new in the platform", n.ID()))
	}
	if fresh.Kernel != l.Kernel {
		diffs = append(diffs, fmt.Sprintf("kernel %s: the archive now has %s", l.Kernel, fresh.Kernel))
	}
	sort.Strings(diffs)
	return diffs, nil
}
