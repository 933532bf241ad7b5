// Package flash writes a disk image to a whole block device, such as a USB
// stick, and verifies it, refusing any device whose loss would hurt: one
// with a mounted partition, one that holds the running system's root or
// /boot, one in use by the device mapper (LVM, RAID, encryption), a
// partition instead of a whole disk, a write-protected device, or one too
// small for the image.
//
// What it knows about devices comes from sysfs (/sys/class/block), the
// udev links under /dev/disk and /proc/self/mountinfo, read through a
// System whose roots tests point at a fake tree.
package flash
