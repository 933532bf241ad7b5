package containers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// maxEtcFile caps how much of an image's /etc/passwd or /etc/group is
// read: real ones are a few KiB, and an image must not make PID 1 read
// gigabytes.
const maxEtcFile = 1 << 20

// lookupUser resolves spec ("name", "uid", "name:group", "uid:gid") with
// the passwd and group files of rootfs, which come from the image. A
// missing file is no file, as for runc.
func lookupUser(spec, rootfs string) (*user.ExecUser, error) {
	var rs [2]io.Reader
	for i, rel := range []string{"etc/passwd", "etc/group"} {
		b, err := readEtcFile(rootfs, rel)
		if err != nil {
			return nil, err
		}
		if b != nil {
			rs[i] = bytes.NewReader(b)
		}
	}
	return user.GetExecUser(spec, &user.ExecUser{}, rs[0], rs[1])
}

// readEtcFile reads rel inside rootfs, or returns nil if it does not
// exist. The path is resolved with securejoin (the image's symlinks are
// followed inside rootfs, never onto the host), opened with O_NOFOLLOW
// (it must not have become a symlink since) and O_NONBLOCK (a FIFO there
// must not hang PID 1), and read only if it is a regular file of at most
// maxEtcFile bytes.
func readEtcFile(rootfs, rel string) ([]byte, error) {
	p, err := securejoin.SecureJoin(rootfs, rel)
	if err != nil {
		return nil, fmt.Errorf("the image's /%s: %w", rel, err)
	}
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the image's /%s: %w", rel, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("the image's /%s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("the image's /%s is not a regular file but %s: not reading it", rel, fileKind(fi.Mode()))
	}
	if fi.Size() > maxEtcFile {
		return nil, fmt.Errorf("the image's /%s is %d bytes, more than the %d read", rel, fi.Size(), maxEtcFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxEtcFile+1))
	if err != nil {
		return nil, fmt.Errorf("the image's /%s: %w", rel, err)
	}
	if len(b) > maxEtcFile {
		return nil, fmt.Errorf("the image's /%s grew past %d bytes while read", rel, maxEtcFile)
	}
	return b, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m.IsDir():
		return "a directory"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return fmt.Sprintf("of type %v", m.Type())
}
