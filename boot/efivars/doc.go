// Package efivars reads the boot loader's EFI variables from efivarfs:
// systemd-boot and its stub record there which entry booted, from which
// partition, and the entry's boot-counting file.
package efivars
