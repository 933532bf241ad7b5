// Package microcode makes the early-microcode archive a UKI carries as
// .ucode: an uncompressed newc cpio with kernel/x86/microcode/GenuineIntel.bin
// and AuthenticAMD.bin, the paths the kernel's early loader looks for
// before it unpacks the initramfs proper. Each file is the vendor's
// update files as Debian's intel-microcode and amd64-microcode install
// them, concatenated in name order, which is what the kernel's loader
// scans and what Debian's own initramfs hooks hand it. The archive is a
// function of those files and the time stamp alone, so builds are
// reproducible.
package microcode
