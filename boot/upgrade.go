package boot

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/atomicfile"
	"github.com/nucbox/nucbox/image/esp"
	"github.com/nucbox/nucbox/image/uki"
	"golang.org/x/sys/unix"
)

// DefaultUpgradeTries is how often a new image may fail to reach ready
// before the boot loader goes back to the old slot.
const DefaultUpgradeTries = 3

// theSlot is the boot loader entry this boot came from.
var theSlot *bootSlot

// Upgrade writes the unified kernel image data into the slot the box is
// not running from, with a boot counter of tries, so that the next boot
// tries it and the boot loader goes back to the running slot if it never
// gets ready. The caller reboots when it wants the new image to run.
func Upgrade(data []byte, tries int) (api.UpgradeResult, error) {
	s := theSlot
	if s == nil || s.Slot == "" {
		return api.UpgradeResult{}, fmt.Errorf("%w: this box did not boot from a nucbox disk through its boot loader (PXE or a direct kernel boot?), so there is no slot to write", api.ErrNoSlots)
	}
	if tries == 0 {
		tries = DefaultUpgradeTries
	}
	if tries < 1 || tries > 9 {
		return api.UpgradeResult{}, fmt.Errorf("tries %d: want 1 to 9", tries)
	}
	s.mu.Lock()
	trial := s.Trial && !s.done
	s.mu.Unlock()
	if trial {
		return api.UpgradeResult{}, fmt.Errorf("%w: slot %s is still on trial; upgrade once it is ready", api.ErrBusy, s.Slot)
	}
	secs, err := uki.Read(data)
	if err != nil {
		return api.UpgradeResult{}, fmt.Errorf("%w: not a unified kernel image: %v", api.ErrBadImage, err)
	}
	if len(secs.Linux) == 0 || len(secs.Initrd) == 0 {
		return api.UpgradeResult{}, fmt.Errorf("%w: the image has no kernel or no initramfs; build it with nucbox image build --uki", api.ErrBadImage)
	}
	osr, err := uki.ParseOSRelease(secs.OSRel)
	if err != nil {
		return api.UpgradeResult{}, fmt.Errorf("%w: %v", api.ErrBadImage, err)
	}
	if osr.ID != "nucbox" {
		return api.UpgradeResult{}, fmt.Errorf("%w: its .osrel says ID=%q", api.ErrBadImage, osr.ID)
	}
	res := api.UpgradeResult{From: s.Slot, Slot: otherSlot(s.Slot), Version: osr.VersionID, Tries: tries}
	err = withESP(func(dir string) error {
		linux := filepath.Join(dir, filepath.FromSlash(esp.LinuxDir))
		cur, _, err := slotRelease(linux, s.Slot)
		if err != nil {
			return err
		}
		osr.ImageVersion = cur + 1
		out, err := uki.Rewrite(data, map[string][]byte{uki.OSRel: osr.Bytes()})
		if err != nil {
			return err
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
	Logf("upgrade: wrote %s (%s, generation %d, %d MiB) to slot %s with %d boot tries; the next boot tries it",
		res.File, osr.VersionID, res.Generation, res.Bytes>>20, res.Slot, tries)
	return res, nil
}

// slotRelease reads the generation and nucbox version of slot's image.
func slotRelease(linux, slot string) (int, string, error) {
	f, _ := slotFile(linux, slot)
	if f == "" {
		return 0, "", fmt.Errorf("slot %s has no image in %s", slot, linux)
	}
	b, err := os.ReadFile(filepath.Join(linux, f))
	if err != nil {
		return 0, "", err
	}
	secs, err := uki.Read(b)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", f, err)
	}
	o, err := uki.ParseOSRelease(secs.OSRel)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", f, err)
	}
	return o.ImageVersion, o.VersionID, nil
}

// slotState is the status's account of the boot slot.
func slotState() *api.SlotState {
	s := theSlot
	if s == nil || s.Slot == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &api.SlotState{Slot: s.Slot, Generation: s.generation, Version: s.version, Trial: s.Trial && !s.done, RolledBack: s.rolledBack}
	return st
}
