// Package disk writes the raw USB disk image: a GPT with an EFI System
// Partition that holds systemd-boot, its loader.conf and the unified
// kernel image in slot A, followed by a data partition that is left
// unformatted for the box to format and grow on its first boot, when it
// knows how large the stick really is.
//
// Partitions start and end on 1 MiB boundaries and the ESP is FAT32. GUIDs
// are derived from the ESP's contents, and FAT timestamps follow
// SOURCE_DATE_EPOCH when it is set, as in other reproducible builds: with
// it, the same inputs give the same bytes.
package disk
