// Package ci decides, once for every test tier, whether a test may skip.
//
// A test that cannot run on this machine ends in one of two ways, and
// each has its own function so that a reader never mistakes one for the
// other:
//
//   - Missing: a prerequisite the project's own setup provides is absent
//     (not root, a Debian package make deps installs, the Debian kernel,
//     loop devices). On a developer's machine the test skips and says what
//     to install; when CI is set (to anything but "", "false" or "0") the
//     same message fails the test, because a CI machine without the
//     prerequisite is broken and a green run made of skips would hide it.
//   - HostLacks: the host kernel cannot do what the test checks, and
//     another tier covers it (bridge VLAN filtering is missing on the
//     build hosts; the QEMU tier boots the Debian kernel that has it). It
//     skips, under CI too, and says which tier covers it.
//
// ShortMode is the third, explicit request: -short skips the slow tiers.
//
// Every skip in the repository goes through this package; the helpers of
// the tiers (harness.Require, netnstest.Require, loopdev.RequireRoot and
// the packages' own requireRoot-style helpers) call Missing.
package ci
