// Package datapart finds, creates, grows, checks and mounts the box's data
// partition: the one place that survives a reboot (VM disks, container
// images, leases, the state directory).
//
// The USB image ships a GPT with two partitions: nucbox-esp (the EFI system
// partition) and a small, unformatted nucbox-data. It is flashed to sticks
// of any size, so at first boot the backup GPT header sits where the image
// ended, not at the end of the stick, and most of the stick is unallocated.
// Setup, called once by PID 1, turns that into a data partition that fills
// the stick and carries an ext4 filesystem, mounted at the state directory:
//
//  1. Find the partition: by GPT partition name nucbox-data on any whole
//     disk, else by ext4 label nucbox-data (a disk partitioned by hand).
//     With neither, a disk holding nucbox-esp and at least 64 MiB
//     unallocated after its last partition gets a new nucbox-data there.
//     With no such disk either (PXE boot, a stick without room), Setup
//     returns ErrNoDisk and the box runs without persistence.
//     Where several disks qualify, the one holding the partition the
//     firmware booted from (Options.BootPartUUID, from the boot loader)
//     wins, then disks with a nucbox ESP.
//  2. Grow: if the disk extends past the GPT, the backup header moves to
//     the disk's end and the data partition (when it is the last one)
//     grows to the last whole MiB. The table is only rewritten while no
//     partition of that disk is mounted or held, and the kernel learns the
//     new geometry through BLKPG ioctls (BLKRRPART as a fallback).
//  3. Filesystem: a partition this boot created, or one whose first MiB
//     is zeros, gets mke2fs (lazy inode table and journal init, so
//     formatting a large stick takes well under a second). Nothing else
//     is ever formatted: a partition without a readable primary
//     superblock is handed to e2fsck -p -b with each backup superblock
//     found at the standard places (recover.go), and when none repairs
//     it Setup returns a *DamagedError (ErrDamaged) having written
//     nothing, and the box runs without persistence. A readable
//     filesystem gets e2fsck -p, whose exit codes of 4 and above abort
//     the mount rather than mount a filesystem it could not repair. A
//     filesystem smaller than its partition (just grown, or a previous
//     boot lost power between growing and resizing) gets e2fsck -f -p and
//     an offline resize2fs.
//  4. Mount ext4 at the mount point with noatime.
//
// What Setup did, or why it did not mount a partition it found, is what
// the box's status shows (Note, Reason, Status); PID 1 then holds the
// workloads whose files would be on the partition.
//
// Every step is logged with sizes. Each step is decided from what is on
// disk, not from a record of earlier boots, so a power cut at any point is
// repaired by the next boot: go-diskfs writes the backup GPT before the
// primary, and a filesystem smaller than its partition is resized again.
//
// Setup runs e2fsprogs (mke2fs, e2fsck, resize2fs) and nothing else: the
// GPT is read and written in Go, and partitions are found through sysfs.
//
// # What the kernel must provide before Setup runs
//
// PID 1 has no modprobe for the kernel to call, so every module ext4
// requests on demand must already be loaded. With the Debian kernel that
// is crc16, mbcache, jbd2, ext4 and a crc32c implementation
// (crc32c_generic, or crc32c_intel); without crc32c the mount fails with
// ENOENT and "Cannot load crc32c driver" in the kernel log. The disk
// drivers (usb-storage or uas with sd_mod and xhci for USB sticks, nvme,
// ahci, mmc_block, virtio_blk under QEMU) must be loaded and the disks
// probed, and the kernel must parse GPTs (CONFIG_EFI_PARTITION, built in
// on Debian). When the kernel does not show a partition the table holds,
// Setup adds it with BLKPG, which also covers kernels without a GPT
// parser. The loop driver is only needed by this package's tests.
package datapart
