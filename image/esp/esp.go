package esp

import "path"

// GPT partition names. The box finds its partitions by these names, not by
// number or device path, because the stick may show up as sda on one
// machine and sdb or nvme0n1 on the next.
const (
	ESPName  = "nucbox-esp"
	DataName = "nucbox-data"
)

// GPT partition type GUIDs.
const (
	// ESPType is the EFI System Partition; firmware looks only there.
	ESPType = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	// DataType is "Linux filesystem data".
	DataType = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
)

// ESPLabel is the FAT volume label of the ESP.
const ESPLabel = "NUCBOX"

// Layout sizes.
const (
	// Alignment is where partitions start: a multiple of every flash
	// erase block and 4K sector size in use.
	Alignment = 1 << 20
	// DefaultESPSize holds two unified kernel images with QEMU inside
	// (about 60 MiB each) with room for a third being written, and is
	// large enough for FAT32 (at least 65525 clusters), which some
	// firmware insists on for an ESP.
	DefaultESPSize = 256 << 20
)

// Paths on the ESP, absolute from its root as the FAT library and EFI
// variables spell them.
const (
	// BootLoader is the removable-media path: firmware boots it from any
	// disk without a boot entry in NVRAM, which a freshly flashed stick
	// does not have.
	BootLoader = "/EFI/BOOT/BOOTX64.EFI"
	// LoaderConf is systemd-boot's configuration.
	LoaderConf = "/loader/loader.conf"
	// LinuxDir is where systemd-boot finds unified kernel images on its
	// own (type #2 boot loader entries).
	LinuxDir = "/EFI/Linux"
)

// Slot file names in LinuxDir. An image is written to one slot while the
// box runs from the other.
const (
	SlotA = "nucbox-a.efi"
	SlotB = "nucbox-b.efi"
)

// KeysDir is where systemd-boot looks for Secure Boot keys to enrol
// (PK.auth, KEK.auth, db.auth). Only a directory named "auto" is
// enrolled without a choice in the menu ("secure-boot-enroll force").
const KeysDir = "/loader/keys/auto"

// SlotPath is a slot's path on the ESP, e.g. /EFI/Linux/nucbox-a.efi.
func SlotPath(slot string) string { return path.Join(LinuxDir, slot) }

// LoaderConfig is the loader.conf written to a new disk: boot the default
// entry at once, and do not let anyone at the keyboard edit the kernel
// command line (which would bypass the config source it names).
func LoaderConfig() []byte {
	return []byte("# nucbox: boot at once; entries are the unified kernel images in " + LinuxDir + "\ntimeout 0\neditor no\n")
}

// EnrollingLoaderConfig is LoaderConfig plus the order to enrol the keys
// in KeysDir by itself when the firmware is in setup mode (systemd-boot
// 252 and later); the machine reboots with Secure Boot on. Outside
// setup mode the keys are ignored.
func EnrollingLoaderConfig() []byte {
	return append(LoaderConfig(), "secure-boot-enroll force\n"...)
}
