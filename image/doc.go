// Package image builds the box's bootable artifacts from a kernel, its
// modules directory, the nucbox binary and a config file.
//
// Build writes OUTDIR/vmlinuz and a compressed newc initramfs whose /init is
// nucbox. The initramfs is self-contained: the device nodes the kernel needs
// before any filesystem is mounted, a static busybox with its applet links
// for the rescue shell, the kernel modules the box loads (with their whole
// dependency closure and module metadata trimmed to match), the config at
// /etc/nucbox/config.yaml, and any extra host binaries with the shared
// libraries they link against.
//
// Output is reproducible: the same inputs give the same bytes, because
// records are written in sorted order with fixed owners, times and inode
// numbers. Output files appear atomically, so a failed build never leaves a
// truncated image where a boot would pick it up.
//
// UKI, disk image and PXE outputs belong here too; they build on the
// kernel and initramfs produced by Build.
package image
