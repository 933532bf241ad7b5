// Package vmmtest holds what the tests of QEMU guests share, in vmm and
// in the packages that drive vmm guests: a fake qemu-system-x86_64 (the
// test binary itself, re-executed; see RunFakeQEMU), which speaks enough
// QMP to test starts, stops and restarts in milliseconds without QEMU,
// and the host tier's tiny guest (Debian's kernel and an initramfs of the
// host's static busybox) for tests with the real QEMU. It is for tests
// only and imports neither vmm nor config, so that vmm's own tests can
// use it.
package vmmtest
