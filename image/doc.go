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
// The config comes as a Baked value: the command line reads and checks it
// (config.Load) and hands over its file, its modules, its VM count and
// the files its VMs read. The builder does not import config, so what an
// image carries never depends on more of the config than that.
//
// A config with VMs (or Options.QEMU) brings QEMU along at Debian's
// paths, because QEMU finds its modules and firmware relative to its own
// executable: /usr/bin/qemu-system-x86_64 and qemu-img with their
// libraries, the TCG accelerator module it dlopens (which ldd does not
// list), and the x86 firmware from the directories `qemu -L help` names,
// copied as regular files where the host has symlinks. It costs about
// 53 MiB unpacked, 17 MiB compressed. Guest kernels and disk images for
// tests go in through Options.Files, under the state directory.
//
// Options.Root builds from an unpacked pinned platform (package platform)
// instead of the host: busybox, e2fsprogs, QEMU with its firmware,
// systemd-boot and the CA bundle are then resolved inside it, absolute
// symlinks included, and shared libraries are found by reading ELF
// headers there rather than by running the host's loader.
//
// Output is reproducible: the same inputs give the same bytes, because
// records are written in sorted order with fixed owners and inode
// numbers, and SOURCE_DATE_EPOCH (0 when unset) as every record's time.
// Output files appear atomically, so a failed build never leaves a
// truncated image where a boot would pick it up.
//
// Every image also carries e2fsprogs (mke2fs, e2fsck, resize2fs), which
// the box formats, checks and grows its data partition with, and the
// kernel modules for its boot disk (in kmod.HardwareModules).
//
// Options.ConfigKey bakes in the public key that configs fetched from a
// URL must be signed with (package configsig), at configsig.PublicKeyPath;
// a private key is refused, and nothing else may be put at that path.
// CheckConfigSource refuses a build whose box would refuse its own config
// URL: plain http with neither that key nor a sha256 pin.
//
// Options.UKI, DiskSize and PXE add boot media made from the same kernel
// and initramfs: nucbox.efi (package uki), nucbox.img (packages disk and
// esp) and a pxe/ directory with boot.ipxe (package pxe). They are
// committed together with vmlinuz and the initramfs, or not at all.
// Package flash writes a disk image to a USB stick.
package image
