package slot

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nucbox/nucbox/image/authenticode"
	"github.com/nucbox/nucbox/image/esp"
	"github.com/nucbox/nucbox/image/uki"
	"github.com/nucbox/nucbox/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// DefaultTries is how often a new image may fail to reach ready before
// the boot loader goes back to the old slot.
const DefaultTries = 3

// Reasons an upgrade is refused before anything is written.
var (
	// ErrNoSlots: the box did not boot from a disk with boot slots.
	ErrNoSlots = errors.New("no boot slots")
	// ErrOnTrial: the running slot has not reached ready yet.
	ErrOnTrial = errors.New("the running slot is on trial")
	// ErrBadImage: the image is not a nucbox unified kernel image.
	ErrBadImage = errors.New("not a nucbox image")
	// ErrNotTrusted: the box booted with Secure Boot on and its firmware
	// would not boot the image (unsigned, or signed by a key not in db).
	ErrNotTrusted = errors.New("refused by Secure Boot")
	// ErrGeneration: a signed image whose generation is not above the
	// running one; the box cannot raise it without breaking the
	// signature.
	ErrGeneration = errors.New("the signed image's generation is too low")
)

// RefusedError is an upgrade refused for Reason (ErrNoSlots, ErrOnTrial,
// ErrBadImage, ErrNotTrusted, ErrGeneration), with the details in Detail.
type RefusedError struct {
	Reason error
	Detail string
}

func (e *RefusedError) Error() string { return e.Reason.Error() + ": " + e.Detail }
func (e *RefusedError) Unwrap() error { return e.Reason }

func refuse(reason error, format string, args ...any) error {
	return &RefusedError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// UpgradeResult says where an upgrade went.
type UpgradeResult struct {
	From, Slot string // the running slot and the one written
	File       string // the image's name on the ESP, with its boot counter
	// Generation is the new image's IMAGE_VERSION, one more than the
	// running image's so that the boot loader prefers it.
	Generation int
	Version    string
	Tries      int
	Bytes      int
}

// Upgrade writes the unified kernel image data into the slot the box is
// not running from, with a boot counter of tries (0: DefaultTries), so
// that the next boot tries it and the boot loader goes back to the
// running slot if it never gets ready. The caller reboots when it wants
// the new image to run.
func (s *Slot) Upgrade(data []byte, tries int) (UpgradeResult, error) {
	if s == nil || s.Name == "" {
		return UpgradeResult{}, refuse(ErrNoSlots, "this box did not boot from a nucbox disk through its boot loader (PXE or a direct kernel boot?), so there is no slot to write")
	}
	if tries == 0 {
		tries = DefaultTries
	}
	if tries < 1 || tries > 9 {
		return UpgradeResult{}, fmt.Errorf("tries %d: want 1 to 9", tries)
	}
	s.mu.Lock()
	trial := s.Trial && !s.done
	s.mu.Unlock()
	if trial {
		return UpgradeResult{}, refuse(ErrOnTrial, "slot %s is still on trial; upgrade once it is ready", s.Name)
	}
	secs, err := uki.Read(data)
	if err != nil {
		return UpgradeResult{}, refuse(ErrBadImage, "not a unified kernel image: %v", err)
	}
	if len(secs.Linux) == 0 || len(secs.Initrd) == 0 {
		return UpgradeResult{}, refuse(ErrBadImage, "the image has no kernel or no initramfs; build it with nucbox image build --uki")
	}
	osr, err := uki.ParseOSRelease(secs.OSRel)
	if err != nil {
		return UpgradeResult{}, refuse(ErrBadImage, "%v", err)
	}
	if osr.ID != "nucbox" {
		return UpgradeResult{}, refuse(ErrBadImage, "its .osrel says ID=%q", osr.ID)
	}
	if err := s.checkSignature(data); err != nil {
		return UpgradeResult{}, err
	}
	// A signed image is written as it is: stamping its generation would
	// break the signature, so it must carry a higher one already.
	signed := authenticode.Signed(data)
	res := UpgradeResult{From: s.Name, Slot: otherSlot(s.Name), Version: osr.VersionID, Tries: tries}
	err = s.withESP(func(dir string) error {
		linux := filepath.Join(dir, filepath.FromSlash(esp.LinuxDir))
		cur, _, err := slotRelease(linux, s.Name)
		if err != nil {
			return err
		}
		out := data
		if signed {
			if osr.ImageVersion <= cur {
				return refuse(ErrGeneration, "it says generation %d and slot %s runs generation %d; the box cannot raise it without breaking the signature: build it with --image-version %d", osr.ImageVersion, s.Name, cur, cur+1)
			}
		} else {
			osr.ImageVersion = cur + 1
			if out, err = uki.Rewrite(data, map[string][]byte{uki.OSRel: osr.Bytes()}); err != nil {
				return err
			}
		}
		// The old image of the other slot goes first: the ESP is sized
		// for two images plus slack, not three.
		for {
			f, _ := slotFile(linux, res.Slot)
			if f == "" {
				break
			}
			if err := os.Remove(filepath.Join(linux, f)); err != nil {
				return err
			}
		}
		// The reason an earlier image of that slot was rolled back is
		// not this image's: its attempts have the same file names.
		if err := os.Remove(reasonFile(dir, res.Slot)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		var st unix.Statfs_t
		if err := unix.Statfs(linux, &st); err == nil {
			if free := int64(st.Bavail) * st.Bsize; free < int64(len(out)) {
				return fmt.Errorf("the ESP has %d MiB free, the image needs %d MiB", free>>20, len(out)>>20)
			}
		}
		res.File = fmt.Sprintf("nucbox-%s+%d.efi", res.Slot, tries)
		res.Generation, res.Bytes = osr.ImageVersion, len(out)
		// Written under a temporary name the boot loader ignores (it
		// looks at *.efi only) and renamed: a power cut mid-write leaves
		// no half image for it to try.
		return atomicfile.WriteFile(filepath.Join(linux, res.File), out, 0o600)
	})
	if err != nil {
		return res, err
	}
	s.logf("wrote %s (%s, generation %d, %d MiB) to slot %s with %d boot tries; the next boot tries it",
		res.File, osr.VersionID, res.Generation, res.Bytes>>20, res.Slot, tries)
	return res, nil
}

// slotRelease reads the generation and nucbox version of slot's image.
func slotRelease(linux, slot string) (int, string, error) {
	f, _ := slotFile(linux, slot)
	if f == "" {
		return 0, "", fmt.Errorf("slot %s has no image in %s", slot, linux)
	}
	// Only the .osrel section is read: PID 1 calls this after every boot,
	// and reading the whole image (about 50 MiB) made PID 1's resident
	// memory grow by that much right after ready, for good.
	file, err := os.Open(filepath.Join(linux, f))
	if err != nil {
		return 0, "", err
	}
	defer file.Close()
	osrel, err := uki.ReadSection(file, uki.OSRel)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", f, err)
	}
	o, err := uki.ParseOSRelease(osrel)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", f, err)
	}
	return o.ImageVersion, o.VersionID, nil
}

// checkSignature refuses, on a box that booted with Secure Boot on, an
// image its firmware would not boot: after the reboot the boot loader
// would refuse it at every try and fall back, so the upgrade would only
// look like a failed one.
func (s *Slot) checkSignature(data []byte) error {
	if !s.SecureBoot {
		return nil
	}
	db, err := s.opts.Firmware.DB()
	if err != nil {
		return refuse(ErrNotTrusted, "this box booted with Secure Boot on, and its db variable cannot be read to check the image: %v", err)
	}
	signer, err := authenticode.Verify(data, db)
	var untrusted *authenticode.UntrustedError
	switch {
	case err == nil:
		s.logf("upgrade signed by %q, a key in db", signer.Subject.CommonName)
		return nil
	case errors.Is(err, authenticode.ErrUnsigned):
		return refuse(ErrNotTrusted, "this box booted with Secure Boot on and the image is not signed, so the firmware would not boot it; build it with --sign-key and --sign-cert (a key in this box's db: %s)", certNames(db))
	case errors.As(err, &untrusted):
		return refuse(ErrNotTrusted, "this box booted with Secure Boot on and the image is %v; this box's db holds %s, so the firmware would not boot it", err, certNames(db))
	default:
		return refuse(ErrNotTrusted, "this box booted with Secure Boot on and the image's signature is bad: %v", err)
	}
}

func certNames(certs []*x509.Certificate) string {
	if len(certs) == 0 {
		return "no certificates"
	}
	var names []string
	for _, c := range certs {
		names = append(names, fmt.Sprintf("%q", c.Subject.CommonName))
	}
	return strings.Join(names, ", ")
}
