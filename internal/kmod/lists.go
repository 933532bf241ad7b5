package kmod

// BaseModules are loaded at every boot, before the config is read, because
// the box's own features need them whatever the hardware: the bridge and
// VLANs, TAPs and veths, overlay rootfs for containers, the netlink families
// libcontainer uses, nftables with connection tracking and masquerading for
// VLANs the box routes to the uplink, and the ACPI power button with its
// input events so that a powerdown request reaches PID 1, and the port
// policies: nftables' bridge-family meta (where it is a module the
// kernel refuses meta matches in bridge tables without it) and traffic
// control for rates and mirrors (TBF, clsact, u32, mirred, IFB and dummy
// links); and nftables' fib lookup, the firewall's IPv6 reverse-path
// filter on VLAN interfaces (IPv4 has the kernel's rp_filter).
func BaseModules() []string {
	return []string{
		"button", "evdev",
		"bridge", "8021q", "tun", "veth", "vxlan", "macvlan",
		"overlay", "xfrm_user", "nfnetlink",
		"nf_conntrack", "nf_nat", "nf_tables", "nft_ct", "nft_chain_nat", "nft_masq", "nft_fib_inet",
		"af_packet",
		"nft_meta_bridge", "sch_tbf", "sch_ingress", "cls_u32", "act_mirred", "ifb", "dummy",
	}
}

// moduleParams are the parameters a module is loaded with: IFB and dummy
// make no links of their own (ifb0, dummy0) that nobody asked for.
var moduleParams = map[string]string{"ifb": "numifbs=0", "dummy": "numdummies=0"}

// HardwareModules are drivers that coldplug may need for the devices of a
// NUC, a rack server or a QEMU guest. The image carries them (with their
// dependencies); at boot only those whose modalias matches a device present
// are loaded.
func HardwareModules() []string {
	return []string{
		// NICs: Intel NUCs (e1000e, igc), Realtek boards, QEMU's models.
		"e1000e", "igc", "igb", "r8169", "e1000", "virtio_net",
		// Virtual and real storage, for guest disks and the data partition.
		"virtio_pci", "virtio_blk", "virtio_scsi", "virtio_console", "virtio_rng",
		"ahci", "nvme", "sd_mod", "sr_mod", "usb_storage", "uas", "xhci_pci", "ehci_pci",
		// Hardware random number generators feed the kernel's pool early:
		// virtio_rng (above) and VIA's CPU RNG are modules in the Debian
		// kernel; the TPM's (tpm_tis, tpm_crb) is built in, and RDRAND
		// needs no driver. The chipset RNGs of 2002 (amd_rng, intel_rng)
		// are left out: intel_rng probes the firmware hub of every ICH.
		"via_rng",
		// Filesystems for the data partition, ESP and seeds.
		// ext4 needs crc32c, which modules.dep does not list (the kernel asks
		// for it by name at mount time), so it is named here.
		"ext4", "crc32c_generic", "vfat", "nls_cp437", "nls_ascii", "nls_iso8859_1", "nls_utf8", "isofs", "efivarfs",
		// Watchdogs, armed during trial boots: QEMU's q35 (i6300esb) and Intel
		// boards' (iTCO_wdt, whose device lpc_ich or i2c_i801 creates).
		"i6300esb", "iTCO_wdt", "lpc_ich", "i2c_i801",
		// KVM for guests, 9p for host shares in development.
		"kvm", "kvm_intel", "kvm_amd", "9p", "9pnet_virtio",
	}
}
