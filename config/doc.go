// Package config is the box's config file: the schema as Go types, loading
// YAML with file:line:column errors, defaults applied in one place,
// validation that reports every problem at once, the JSON Schema, and the
// names and MACs derived from the config. It makes no system calls, so its
// tests are fast and run anywhere.
//
// # Loading
//
// Parse and Load decode the YAML syntax tree themselves, so that every
// problem is found in one pass and located: unknown fields (with a
// suggestion), values of the wrong type, invalid sizes and durations, and
// then every semantic problem. The error is an ErrorList, one line per
// problem, sorted by position:
//
//	box.yaml:12:13: vms[1].memory: invalid size "2GB": use a unit like MiB or GiB (did you mean 2GiB?)
//
// A problem with a field that is missing is reported at the position of
// the mapping that should hold it. Anchors, aliases and merge keys (<<) work
// as in YAML; tags other than !!str are refused. Scalars are typed as YAML
// reads them: a string field needs a string ("8080" in quotes for an
// environment value), so that nothing is converted behind the user's back.
// A number field written as 0 is an error wherever 0 would mean "use the
// default", because the default would silently replace it. Collections
// nested more than 64 deep are refused from the token stream, before the
// parser (which recurses per level) sees them (depth.go).
//
// # Defaults
//
// ApplyDefaults is the only place defaults are set, between decoding and
// validation; a loaded Config shows the values the box will use and
// Defaulted/IsDefaulted tell which of them the file did not write, which
// is how plan marks them. The default values are the Default* constants.
//
// # Units
//
// Sizes are bytes or a whole number with a binary unit: B, KiB, MiB, GiB,
// TiB. GB, G, M and the like are rejected with a hint instead of guessed,
// because tools disagree about them (QEMU's 2G is 2 GiB, a disk vendor's
// 2GB is 2*10^9 bytes). Durations are Go duration text (10s, 1m30s) and need
// a unit.
//
// # Network rules
//
// A NIC is an access port (vlan) or a trunk (trunk, optionally native);
// with neither it is an access port in the uplink's native VLAN, that is
// on the lab network itself. A workload VLAN does not have to be carried by
// the uplink: VLANs only on the box connect workloads (and a box address)
// without reaching the lab, and plan points them out as "box only". A box
// address VLAN, however, must be carried by the uplink or used by some
// workload, since an address on a VLAN nobody is on is a typo far more
// often than intent; and it cannot be the native VLAN, whose box address is
// uplink.ipv4. IP addresses are unique across the uplink, the box VLAN
// addresses and static workload addresses; MACs are unique across NICs
// (given or derived) and the uplink MAC.
//
// # Derived names
//
// NIC MACs not given in the file come from DeriveMAC(hostname, workload,
// index): a NIC is identified by its index, so add NICs at the end of a
// list to keep the MACs of the others. Link names fit the kernel's 15
// characters:
//
//	TAP of VM NIC n           t-NAME-n       (TAPName)
//	host veth of container n  v-NAME-n       (VethName), eth<n> inside (ContainerIfName)
//	its peer before the move  p-NAME-n       (PeerName)
//	box address on VLAN id    vlan<id>       (VLANIfName)
//
// Names too long keep a prefix of the workload name and add four hex
// digits of its hash: database-primary's first TAP is t-databas2f3a-0.
// Collisions are reported by validation. The bridge may not use these
// forms, nor p-*.
//
// # Images
//
// Container images are registry references (Docker Hub and "latest" are
// filled in as docker does; plan shows the full reference),
// oci-layout:DIR[:TAG] or docker-archive:FILE, parsed by ParseImage.
// Registry credentials are matched to images by host (RegistryFor).
// Relative paths in the config (disks, ISOs, kernels, volume sources,
// layouts and archives) are relative to state-dir (ResolvePath).
package config
