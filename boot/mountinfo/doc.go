// Package mountinfo reads the kernel's mount table, /proc/self/mountinfo,
// for the box's init (what is mounted where, what to unmount), for its
// data partition setup (which disks are in use) and for the host's
// flash command (which devices must not be overwritten).
package mountinfo
