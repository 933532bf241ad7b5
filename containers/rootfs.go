package containers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Rootfs is a container's root: the image layers read-only under a
// per-container writable layer, joined by overlayfs.
type Rootfs struct {
	// Dir holds upper/, work/ and the mount point rootfs/.
	Dir string
}

// Path is the mounted root.
func (r Rootfs) Path() string { return filepath.Join(r.Dir, "rootfs") }

// Mount mounts the overlay. Layers are lowest first, as Image has them.
// fresh empties the writable layer first: a container starts from its
// image when it is created, and keeps its changes across restarts.
func (r Rootfs) Mount(layers []string, fresh bool) error {
	if len(layers) == 0 {
		return errors.New("image has no layers")
	}
	_ = r.Unmount()
	upper, work := filepath.Join(r.Dir, "upper"), filepath.Join(r.Dir, "work")
	if fresh {
		if err := os.RemoveAll(upper); err != nil {
			return err
		}
	}
	// work must be empty and on the same filesystem as upper.
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	for _, d := range []string{upper, work, r.Path()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	lower := slices.Clone(layers)
	slices.Reverse(lower) // overlayfs lists the top layer first
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lower, ":"), upper, work)
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("overlay mount options for %d layers exceed a page: squash the image", len(layers))
	}
	// nodev: device nodes in a layer (an image can ship any) open
	// nothing, neither for the container nor for the box reading its
	// files; runc gives the container its /dev on a tmpfs of its own.
	// nosuid costs nothing: every container runs with no-new-privileges,
	// under which set-uid bits are ignored anyway.
	if err := unix.Mount("overlay", r.Path(), "overlay", unix.MS_NODEV|unix.MS_NOSUID, opts); err != nil {
		return fmt.Errorf("mount overlay rootfs: %w", err)
	}
	return nil
}

// Unmount detaches the overlay; the writable layer stays.
func (r Rootfs) Unmount() error {
	err := unix.Unmount(r.Path(), unix.MNT_DETACH)
	if err == unix.EINVAL || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// netDirInside is where a container sees the files nucbox keeps up to
// date for it (resolv.conf from DHCP): a bind mount of a directory of
// the host, so that nucbox never writes through a path inside the
// container's rootfs, which the container could turn into a symlink out
// of it between two writes.
const netDirInside = "/run/nucbox"

// writeEtc gives the container its own /etc/hostname and /etc/hosts, as
// Docker does, in the writable layer, and with network, /etc/resolv.conf
// as a symlink into netDirInside. Paths are resolved inside rootfs: the
// image (or an earlier run of the container) may have made /etc or the
// files symlinks.
func writeEtc(rootfs, hostname string, network bool) error {
	etc, err := securejoin.SecureJoin(rootfs, "etc")
	if err != nil {
		return err
	}
	if err := mkdirAllIn(rootfs, etc); err != nil {
		return err
	}
	files := map[string]string{
		"hostname": hostname + "\n",
		"hosts":    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + hostname + "\n",
	}
	for name, body := range files {
		p := filepath.Join(etc, name)
		_ = os.Remove(p) // a symlink is replaced, never followed
		// Written at every start: no fsync, a power cut loses nothing.
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	if network {
		p := filepath.Join(etc, "resolv.conf")
		_ = os.Remove(p)
		if err := os.Symlink(netDirInside+"/resolv.conf", p); err != nil {
			return err
		}
	}
	return nil
}
