// Package slot owns the box's A/B boot slots: which of the two unified
// kernel images on the ESP (nucbox-a.efi, nucbox-b.efi) this boot came
// from, as systemd-boot's EFI variables say (the one reader of those
// variables, efivarfs, is here); the trial of a freshly written image
// under systemd-boot's boot counting, with its deadline and the hardware
// watchdog, ended by a reboot when it fails or by dropping the counter
// when it gets ready; and writing an upgrade into the other slot.
//
// Detect returns the Slot value for this boot; the init keeps it and
// calls its methods. The package holds no state of its own.
package slot
