// Package qemuboot boots a built nucbox image in QEMU on the machine the
// user works at, the way `nucbox run` tries a config before it goes onto
// a stick: the uplink on QEMU's user network, the box's API forwarded to
// a port on the loopback, the console on the terminal.
//
// It only turns options into a QEMU command line and finds a free port;
// building the image, choosing the accelerator and reading the console
// are the caller's.
package qemuboot
