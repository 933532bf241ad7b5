// Package harness boots QEMU machines for nucbox's end-to-end tests and
// lets a test watch and drive them. Every QEMU test of the project uses it,
// so that booting, waiting and cleaning up are solved once.
//
// What it owns:
//
//   - Prerequisites: Require skips a test on a machine that cannot run
//     QEMU tests (not root, no qemu-system-x86_64, no Debian kernel) and
//     fails it when CI is set (package test/ci decides), so that CI never
//     passes on skips.
//   - Artifacts to boot: Nucbox builds the appliance binary once per test
//     process; BuildImage runs `nucbox image build` for a config and caches
//     the result in build/test by content; TinyInitramfs makes a busybox
//     initramfs for guests that are not the appliance.
//   - Machines: Boot runs qemu-system-x86_64 under TCG (KVM does not work
//     on the project's machines) with the serial console on QEMU's stdio
//     and QMP on a unix socket. Options model what the tests need: user-mode
//     NICs with port forwards and TFTP, Segments (an Ethernet segment
//     between machines, with a hub in the test that records every frame),
//     disks on virtio, USB, NVMe or IDE, OVMF, and raw extra arguments.
//   - The console: every line goes to the test log with the machine's name
//     and time since start, and to NAME-console.log in the artifacts
//     directory ($NUCBOX_ARTIFACTS/TestName when set). Expect waits for a
//     line with a deadline and never misses output that arrived before the
//     call; ExpectReady understands the appliance's ready and failed lines;
//     Send and Shell type into the console.
//   - QMP through go-qemu, with a deadline on every command and events
//     read continuously: Powerdown, Quit, Status, WaitEvent.
//   - Cleanup: at the end of the test, pass or fail or panic, QEMU is quit
//     through QMP, its process group killed, and its sockets removed; if
//     the test process dies, the kernel kills QEMU with it.
//
// Nothing here sleeps for a fixed time to let a guest get somewhere: every
// wait is for a console line, a QMP reply or event, or QEMU's exit, each
// with a deadline.
package harness
