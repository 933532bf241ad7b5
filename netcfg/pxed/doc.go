// Package pxed is the box as the boot server of a rack: the machines on
// one of its segments boot the box's own kernel and initramfs over the
// network and fetch their config by MAC from a directory of configs.
//
// It owns four small servers on the box's address on that segment:
// proxyDHCP (UDP 67 and 4011), for a segment whose addresses another DHCP
// server hands out, which tells PXE clients only where to boot from; TFTP
// (UDP 69) for the iPXE script and the bundle; HTTP (TCP 80) for the
// script, the kernel and the initramfs, which iPXE fetches much faster
// than over TFTP; and HTTPS (TCP 8444, with the box's API certificate)
// for the configs. On a segment where the box leases the addresses
// itself, its DHCP server (netcfg/dhcpd) adds the boot options from
// BootOptions instead of the proxy.
//
// The script passes the certificate's SHA-256 on the kernel command line
// (nucbox.config.cert-sha256=), so that a rack machine takes a config
// only from this box, and nobody on the segment reads a config on the
// way. The script, kernel and initramfs themselves come over plain TFTP
// and HTTP, as PXE firmware fetches them: the pin is as good as the
// script it arrives in, which is the most plain PXE can give.
//
// Every machine the servers hear from is remembered with its MAC, its
// address, when it was seen and whether the box had a config for it: a
// machine without one gets 404 for its config, goes into maintenance
// mode, and is listed in the box's status until it is given one.
package pxed
