package vmm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// User is the unprivileged user and group a guest's QEMU runs as.
// Numeric: the box may have no /etc/passwd, and each guest has its own
// pair (config/plan derives it), so that one compromised QEMU cannot
// touch another guest's disks or signal its process.
type User struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

// The descriptors an unprivileged QEMU inherits (exec.Cmd.ExtraFiles
// start at 3): the QMP socket nucbox listens on, then one TAP per NIC.
// QEMU can neither create a socket in the guest's directory, which it
// cannot write, nor attach to a TAP, which needs CAP_NET_ADMIN.
const (
	qmpFD     = 3
	firstTAPF = 4
)

func tapFD(nic int) int { return firstTAPF + nic }

// OpenTAP attaches to the existing TAP name (made by vswitch) in the
// calling thread's network namespace and returns its queue descriptor,
// with the flags vswitch made it with and QEMU uses for virtio-net.
func OpenTAP(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("TAP %s: %w", name, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TAP %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TAP %s: attach: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "tap "+name), nil
}

// listenQMP makes the QMP socket at path, listening, for QEMU to accept
// on; the supervisor dials it like one QEMU made.
func listenQMP(path string) (*os.File, error) {
	if err := checkSocketPath(path); err != nil {
		return nil, err
	}
	os.Remove(path)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("QMP socket %s: %w", path, err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("QMP socket %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), "qmp "+path), nil
}

// credential runs QEMU as u with no capabilities: a non-root uid loses
// its permitted and effective sets at exec, no ambient ones are given,
// and the supplementary groups are cleared. QEMU's -sandbox sets
// no_new_privs itself before the guest runs (libseccomp's default for a
// filter), and denies changing users or privileges.
func credential(u *User) *syscall.Credential {
	return &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}
}

// grantFiles lets user u reach what QEMU opens by path for spec s, before
// it starts: the guest's directory (nucbox's) becomes group u.GID, mode
// 0750, and its seed 0640, so QEMU reads them but cannot write there;
// writable disks are given to u (their owner changes, their bytes do
// not: a disk is the guest's alone, and QEMU's image lock keeps two
// guests from one disk). Files QEMU only reads (kernel, initrd, CD-ROMs,
// read-only disks, backing images) are nucbox's to read, not to take:
// one the user cannot read is an error that says so.
func grantFiles(s Spec, u *User) error {
	p := s.Paths()
	vms := filepath.Dir(p.Dir)
	if err := os.Chmod(vms, 0o755); err != nil {
		return err
	}
	if err := chownMode(p.Dir, 0, int(u.GID), 0o750); err != nil {
		return err
	}
	if s.CloudInit != nil {
		if err := chownMode(p.Seed, 0, int(u.GID), 0o640); err != nil {
			return err
		}
	}
	var errs []error
	for i, d := range s.Disks {
		if d.ReadOnly {
			errs = append(errs, readable(fmt.Sprintf("disk %d", i), d.Path, u, false))
			continue
		}
		if err := os.Chown(d.Path, int(u.UID), int(u.GID)); err != nil {
			errs = append(errs, fmt.Errorf("disk %d: %w", i, err))
			continue
		}
		errs = append(errs, readable(fmt.Sprintf("disk %d", i), d.Path, u, true))
		if d.Backing != "" {
			errs = append(errs, readable(fmt.Sprintf("disk %d: backing image", i), d.Backing, u, false))
		}
	}
	for i, iso := range s.CDROMs {
		errs = append(errs, readable(fmt.Sprintf("cdrom %d", i), iso, u, false))
	}
	if s.Kernel != "" {
		errs = append(errs, readable("kernel", s.Kernel, u, false))
	}
	if s.Initrd != "" {
		errs = append(errs, readable("initrd", s.Initrd, u, false))
	}
	if s.Accel == KVM {
		// PID 1 opens it to everyone, as udev does (boot).
		if err := allowed(kvmDevice, u, 6); err != nil {
			errs = append(errs, fmt.Errorf("accel kvm: %w", err))
		}
	}
	return errors.Join(errs...)
}

func chownMode(path string, uid, gid int, mode fs.FileMode) error {
	if err := os.Lchown(path, uid, gid); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

// readable reports, for what, whether user u may open path (and write
// it, with write) and search every directory on the way, by the mode
// bits as the kernel would check them for u with no supplementary
// groups. ACLs are not read: a file they open to u but its mode does not
// is reported too.
func readable(what, path string, u *User, write bool) error {
	need := uint32(4)
	if write {
		need |= 2
	}
	if err := allowed(path, u, need); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		if err := allowed(dir, u, 1); err != nil {
			return fmt.Errorf("%s %s: %w", what, path, err)
		}
		if dir == "/" || dir == "." {
			return nil
		}
	}
}

func allowed(path string, u *User, need uint32) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	perm := st.Mode & 0o7
	switch {
	case st.Uid == u.UID:
		perm = st.Mode >> 6 & 0o7
	case st.Gid == u.GID:
		perm = st.Mode >> 3 & 0o7
	}
	if perm&need != need {
		verb := map[uint32]string{1: "search", 4: "read", 6: "read and write"}[need]
		return fmt.Errorf("%s (mode %04o, owner %d:%d) is not open to the VM's user %d:%d to %s; QEMU runs unprivileged: make it readable by others",
			path, st.Mode&0o7777, st.Uid, st.Gid, u.UID, u.GID, verb)
	}
	return nil
}

// kvmDevice is KVM's device node.
const kvmDevice = "/dev/kvm"
