// Package authenticode signs and verifies PE/COFF images (EFI programs
// such as systemd-boot and unified kernel images) the way UEFI Secure
// Boot checks them: a PKCS#7 SignedData over the image's Authenticode
// hash, in an attribute certificate table at the end of the file.
//
// The hash leaves out the three places a signature changes: the header
// checksum, the security directory entry and the certificate table
// itself, so a signature can be appended without changing what it
// signs. Only SHA-256 and one signature per image are supported; that is
// what firmware with a platform owner's own keys needs.
package authenticode
