// Package pxe writes the iPXE script of a PXE bundle: a directory with the
// kernel, the initramfs and boot.ipxe, served over TFTP or HTTP to a rack
// of machines that each fetch their own config.
//
// The config URL is a template such as
// http://10.0.0.1/configs/${mac}.yaml. iPXE expands ${...} in every script
// line before it runs it, again and again until none is left, so there is
// no way to pass ${mac} through it literally. The script therefore lets
// iPXE fill the variables in: ${mac} becomes the MAC of the interface
// iPXE booted from, in lower-case hex with colons (52:54:00:12:34:56),
// ${uuid} the SMBIOS UUID in lower case with hyphens, ${hostname} the host
// name from DHCP. These are the strings the box itself would produce for
// the same NIC and machine (Go's net.HardwareAddr and the kernel's
// product_uuid print them the same way), so a URL reaches the kernel
// command line already filled in and points where the box would have
// pointed it; the box only expands what is left, on other boot paths.
package pxe
