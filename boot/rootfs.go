package boot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// The initramfs is the kernel's first mount ("rootfs"), which can never
// be unmounted or pivoted away from: pivot_root(2) fails with EINVAL while
// / is rootfs, and libcontainer needs pivot_root for every container. So
// PID 1 first puts another mount on /, with MS_MOVE and chroot (what
// switch_root does), and exec's itself again from there. The marker in
// the environment makes the second exec skip this step.
//
// The kernel command line picks how (nucbox.rootfs=):
//   - copy (default): move the files onto a fresh tmpfs, deleting each one
//     from the initramfs once copied so that memory use does not double.
//     The root is then a plain tmpfs, but the copy costs time in
//     proportion to the image (about 35 MB/s under TCG, where the kernel's
//     memcpy is emulated; a blink on hardware).
//   - bind: bind-mount the initramfs onto itself and make that the root.
//     Instant, and pivot_root works just the same (what it needs is a root
//     mount with a parent), but / still reports itself as rootfs.
//   - keep: stay on the initramfs; containers then need NoPivotRoot.

const (
	movedEnv   = "NUCBOX_ROOT_MOVED"
	newRootDir = "/.nucbox-root"
)

// leaveInitramfs moves / off the initramfs and re-exec's PID 1; it returns
// only if there was nothing to do or the move could not start, in which
// case PID 1 carries on from the initramfs. After the re-exec it returns
// the report of the move, for the log: the first exec has no kernel clock
// to stamp it with yet.
func leaveInitramfs() (report string, err error) {
	if r := os.Getenv(movedEnv); r != "" {
		os.Unsetenv(movedEnv)
		os.Remove(newRootDir) // left empty by a bind move
		return r, nil
	}
	ourProc := false
	if !isProcMounted() {
		os.Mkdir("/proc", 0o555)
		if err := unix.Mount("proc", "/proc", "proc", nsnd, ""); err != nil {
			return "", fmt.Errorf("mount /proc to inspect the root: %w", err)
		}
		ourProc = true
	}
	fstype, err := rootFSType()
	if err != nil {
		return "", err
	}
	mode := "copy"
	if cl, err := ReadCmdline(); err == nil {
		if m, ok := cl.Get("nucbox.rootfs"); ok {
			mode = m
		}
	}
	if fstype != "rootfs" || mode == "keep" {
		if ourProc {
			unix.Unmount("/proc", unix.MNT_DETACH)
		}
		return "", nil
	}
	if mode != "copy" && mode != "bind" {
		Logf("rootfs: warning: unknown nucbox.rootfs=%s; using copy", mode)
		mode = "copy"
	}
	// Anything mounted on the initramfs would be left behind, hidden under
	// the new root; take it down now and mount it again after the exec.
	mi, _ := mountinfo.GetMounts(nil)
	for i := len(mi) - 1; i >= 0; i-- {
		if mi[i].Mountpoint != "/" {
			unix.Unmount(mi[i].Mountpoint, unix.MNT_DETACH)
		}
	}

	start := time.Now()
	if err := os.MkdirAll(newRootDir, 0o755); err != nil {
		return "", err
	}
	if mode == "bind" {
		if err := unix.Mount("/", newRootDir, "", unix.MS_BIND, ""); err != nil {
			return "", fmt.Errorf("bind-mount the initramfs: %w", err)
		}
		return "", switchRoot(fmt.Sprintf("bind-mounted the initramfs as the new root in %d ms",
			time.Since(start).Milliseconds()))
	}
	if err := unix.Mount("tmpfs", newRootDir, "tmpfs", 0, "mode=0755"); err != nil {
		return "", fmt.Errorf("mount tmpfs for the new root: %w", err)
	}
	mv, err := newMover("/", newRootDir)
	if err != nil {
		unix.Unmount(newRootDir, 0)
		return "", err
	}
	// From here on files are gone from the initramfs as soon as they are
	// copied, so a failure on one entry must not stop the switch: a
	// missing file is better than a root split in two.
	mv.moveDir("/", newRootDir)
	if err := mv.meta(newRootDir, &mv.rootStat); err != nil {
		mv.fail(err)
	}
	for _, e := range mv.errs {
		Logf("rootfs: warning: %v", e)
	}
	return "", switchRoot(fmt.Sprintf("moved the initramfs onto tmpfs: %d files, %.1f MiB in %d ms",
		mv.files, float64(mv.bytes)/(1<<20), time.Since(start).Milliseconds()))
}

// switchRoot makes newRootDir the root and exec's PID 1 from it, handing
// report to the next exec.
func switchRoot(report string) error {
	if err := os.Chdir(newRootDir); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		// The files are on the new mount by now: chroot into it all the
		// same, which keeps everything but pivot_root working.
		Logf("rootfs: warning: cannot move the new root onto /: %v", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot into the new root: %w", err)
	}
	os.Chdir("/")
	exe := "/init"
	if len(os.Args) > 0 && strings.HasPrefix(os.Args[0], "/") {
		exe = os.Args[0]
	}
	env := append(os.Environ(), movedEnv+"="+report, initEnv+"="+strconv.FormatInt(int64(firstExec()), 10))
	err := unix.Exec(exe, os.Args, env)
	// Still here: the old process image lives on, on the new root.
	return fmt.Errorf("re-exec %s on the new root: %w", exe, err)
}

func isProcMounted() bool {
	var st unix.Statfs_t
	return unix.Statfs("/proc", &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

// mover moves a directory tree within one filesystem to another path,
// deleting each source entry once copied so that memory use does not
// double, and keeping modes, owners, times, symlinks, device nodes and
// hard links.
type mover struct {
	dev      uint64
	skip     string               // the destination, which lives inside the source
	links    map[uint64]*hardLink // by source inode
	rootStat unix.Stat_t
	files    int
	bytes    int64
	errs     []error
	buf      []byte
}

// hardLink is a file with more names still to move.
type hardLink struct {
	dst  string // its first name in the destination
	left uint64 // names not yet moved
}

func newMover(src, dst string) (*mover, error) {
	m := &mover{skip: dst, links: map[uint64]*hardLink{}}
	if err := unix.Lstat(src, &m.rootStat); err != nil {
		return nil, err
	}
	m.dev = m.rootStat.Dev
	return m, nil
}

func (m *mover) fail(err error) { m.errs = append(m.errs, err) }

func (m *mover) moveDir(src, dst string) {
	ents, err := os.ReadDir(src)
	if err != nil {
		m.fail(err)
		return
	}
	for _, e := range ents {
		s := filepath.Join(src, e.Name())
		if s == m.skip {
			continue
		}
		m.moveEntry(s, filepath.Join(dst, e.Name()))
	}
}

func (m *mover) moveEntry(src, dst string) {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		m.fail(err)
		return
	}
	var err error
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err = os.Mkdir(dst, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			break
		}
		// A directory on another filesystem is a mount point: keep it
		// as an empty directory and leave its contents alone.
		if st.Dev == m.dev {
			m.moveDir(src, dst)
		}
		// Set the mode last: a read-only directory could not be filled.
		err = m.meta(dst, &st)
		unix.Rmdir(src)
		m.files++
		if err != nil {
			m.fail(err)
		}
		return
	case unix.S_IFREG:
		// The link count drops as names are moved, so a later name of
		// an inode is recognised by the inode alone.
		if h, ok := m.links[st.Ino]; ok {
			if h.left--; h.left == 0 {
				delete(m.links, st.Ino)
			}
			err = os.Link(h.dst, dst)
			break
		}
		if st.Nlink > 1 {
			m.links[st.Ino] = &hardLink{dst: dst, left: uint64(st.Nlink) - 1}
		}
		if err = m.copyFile(src, dst, &st); err == nil {
			err = m.meta(dst, &st)
		}
	case unix.S_IFLNK:
		var target string
		if target, err = os.Readlink(src); err == nil {
			if err = os.Symlink(target, dst); err == nil {
				err = m.meta(dst, &st)
			}
		}
	default: // devices, fifos, sockets
		if err = unix.Mknod(dst, st.Mode, int(st.Rdev)); err == nil {
			err = m.meta(dst, &st)
		}
	}
	if err != nil {
		m.fail(fmt.Errorf("%s: %w", src, err))
		return
	}
	m.files++
	unix.Unlink(src)
}

func (m *mover) copyFile(src, dst string, st *unix.Stat_t) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if m.buf == nil {
		m.buf = make([]byte, 1<<20)
	}
	n, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, m.buf)
	m.bytes += n
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// meta copies owner, mode and times; chown comes before chmod because
// chown clears set-id bits.
func (m *mover) meta(dst string, st *unix.Stat_t) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
}
