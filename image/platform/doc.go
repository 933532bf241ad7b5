// Package platform is the pinned platform an image is built from when no
// kernel is given: exact Debian packages (the kernel with its modules,
// busybox-static, QEMU with every library it links, e2fsprogs,
// systemd-boot-efi, iPXE, SeaBIOS, the CA certificates and, from
// non-free-firmware, Intel's and AMD's CPU microcode), each named
// with its version, pool path, size and sha256 in platform.lock, which is
// embedded in the binary.
//
// Ensure fetches the .deb files from a Debian mirror over plain HTTP,
// refuses any whose size or sha256 differs from the lock (naming the
// package), and unpacks them in Go (ar, then data.tar with xz, zstd or
// gzip) into one directory tree under the cache, the way dpkg would lay
// them out but without running maintainer scripts, without dpkg and
// without root. What the scripts would have made and the image needs is
// made here instead: modules.dep, modules.alias and modules.softdep
// (package depmod) and the CA bundle. The tree is keyed by the lock's
// hash and written under a temporary name, so an interrupted fetch never
// leaves a half-unpacked platform that a later build would trust.
//
// Generate is the maintainer's side: it reads the archive's Release and
// Packages indexes (bookworm, bookworm-updates, bookworm-security; main
// and non-free-firmware),
// picks the newest version of each root package, follows Depends and
// Pre-Depends to the closure of libraries QEMU and e2fsprogs need, and
// writes a new lock (nucbox image lock).
package platform
