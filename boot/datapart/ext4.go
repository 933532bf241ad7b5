package datapart

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// superblock is what Setup needs from an ext2/3/4 superblock.
type superblock struct {
	label string
	size  int64 // bytes the filesystem covers
}

const (
	sbOffset   = 1024
	ext4Magic  = 0xEF53
	incompat64 = 0x80
)

// readSuperblock returns the ext4 superblock of the device or image at
// path, or nil when there is none.
func readSuperblock(path string) (*superblock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 1024)
	if _, err := f.ReadAt(b, sbOffset); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	return parseSuperblock(b), nil
}

func parseSuperblock(b []byte) *superblock {
	le := binary.LittleEndian
	if len(b) < 1024 || le.Uint16(b[0x38:]) != ext4Magic {
		return nil
	}
	blocks := uint64(le.Uint32(b[0x4:]))
	if le.Uint32(b[0x60:])&incompat64 != 0 {
		blocks |= uint64(le.Uint32(b[0x150:])) << 32
	}
	logBlock := le.Uint32(b[0x18:])
	if logBlock > 6 {
		return nil // not a block size ext4 can have: garbage that matched the magic
	}
	label := b[0x78 : 0x78+16]
	if i := bytes.IndexByte(label, 0); i >= 0 {
		label = label[:i]
	}
	return &superblock{label: string(label), size: int64(blocks) << (10 + logBlock)}
}

// mkfs formats dev as ext4. Lazy init leaves zeroing the inode tables and
// journal to the kernel after mounting, which keeps first boot on a large
// stick from spending minutes writing zeros; nodiscard because cheap USB
// sticks can take minutes to discard their whole capacity.
func mkfs(ctx context.Context, o *Options, dev string) error {
	out, err := exec.CommandContext(ctx, o.Mke2fs, "-t", "ext4", "-L", DataName, "-F", "-q",
		"-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", dev).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", o.Mke2fs, err, trim(out))
	}
	return nil
}

// fsck runs e2fsck -p ("preen": fix what is safe to fix without asking,
// stop otherwise) and returns its verdict. -y is never used: answering yes
// to everything can throw away the data it is meant to save, and a box
// without a console operator should rather boot without persistence and
// keep the filesystem for someone to look at.
//
// full forces a complete check (-f), which resize2fs requires before it
// grows a filesystem that was mounted since its last full check.
func fsck(ctx context.Context, o *Options, dev string, full bool) (verdict string, err error) {
	args := []string{"-p", dev}
	if full {
		args = []string{"-f", "-p", dev}
	}
	code, out, err := runFsck(ctx, o, args...)
	if err != nil {
		return "", err
	}
	logLines(o, out)
	switch {
	case code < 4:
		return fsckVerdict(code), nil
	case code&4 != 0:
		return "errors left uncorrected", fmt.Errorf("%s -p %s: exit %d: errors left uncorrected; not mounting", o.E2fsck, dev, code)
	default:
		return fmt.Sprintf("failed (exit %d)", code), &fsckError{code: code, msg: fmt.Sprintf("%s -p %s: exit %d: %s", o.E2fsck, dev, code, trim(out))}
	}
}

// fsckError is an e2fsck failure other than errors left uncorrected: exit
// 8 is what e2fsck returns when it cannot open the filesystem at all.
type fsckError struct {
	code int
	msg  string
}

func (e *fsckError) Error() string { return e.msg }

// runFsck runs e2fsck with args and returns its exit code and output; err
// is set only when e2fsck did not run or was killed.
func runFsck(ctx context.Context, o *Options, args ...string) (int, []byte, error) {
	out, err := exec.CommandContext(ctx, o.E2fsck, args...).CombinedOutput()
	if err == nil {
		return 0, out, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() < 0 {
		return 0, out, fmt.Errorf("%s: %v: %s", o.E2fsck, err, trim(out))
	}
	return ee.ExitCode(), out, nil
}

// fsckVerdict names e2fsck's exit codes below 4.
func fsckVerdict(code int) string {
	switch code {
	case 0:
		return "clean"
	case 1:
		return "errors corrected"
	}
	return "errors corrected, reboot advised"
}

func logLines(o *Options, out []byte) {
	for _, l := range strings.Split(trim(out), "\n") {
		if l != "" {
			o.Logf("data partition: e2fsck: %s", l)
		}
	}
}

// resize grows the unmounted filesystem on dev to its partition. Offline
// rather than online: online resizing needs CAP_SYS_RESOURCE and enough
// reserved GDT blocks, and fails on a filesystem that grows more than
// about a thousandfold, which is exactly a 64 MiB image on a 64 GiB stick.
func resize(ctx context.Context, o *Options, dev string) error {
	out, err := exec.CommandContext(ctx, o.Resize2fs, dev).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", o.Resize2fs, err, trim(out))
	}
	return nil
}

func trim(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = s[:2000] + "..."
	}
	return s
}
