// Package uki assembles and edits unified kernel images: the systemd EFI
// stub (a PE/COFF program) with the kernel, initramfs, command line and an
// os-release document appended as extra PE sections. Firmware, or
// systemd-boot, starts the stub, and the stub finds its payload by section
// name in its own loaded image.
//
// Payload sections are placed the way ukify lays them out: each starts on a
// FileAlignment boundary in the file and on a SectionAlignment boundary in
// memory, after the stub's last section, and SizeOfImage covers them all.
// The stub's own sections are never moved, so its relocations and entry
// point stay valid. Because payload always follows the stub, Rewrite can
// cut an image back to its stub and rebuild it with new payload, which is
// how an upgrade stamps a new .osrel into an image it received.
// An image may also carry .sbat (the stub's SBAT lines merged with the
// image's own; the stub's section is renamed so that there is one) and
// .ucode (a microcode cpio for stubs that hand it to the kernel).
package uki
