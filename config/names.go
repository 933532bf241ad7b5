package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Names and addresses derived from the config live here and only here:
// plan shows them, vswitch, vmm and containers create them, and the two must
// agree or a re-apply would not recognise what it made.

// MaxLinkName is the longest Linux network interface name (IFNAMSIZ-1).
const MaxLinkName = 15

// MaxNICs bounds the NICs of one workload, so that a NIC index takes at
// most two digits in link names.
const MaxNICs = 32

// DeriveMAC is the one place NIC MACs are derived. The MAC of a NIC that
// does not set one is the first six bytes of
// sha256("BOX/WORKLOAD/NIC"), made locally administered and unicast. It is
// stable across boots and machines, so DHCP reservations and guest network
// configs keep working, and it differs between boxes that run workloads of
// the same name on one LAN because the hostname is part of it. A NIC is
// known by its index: inserting a NIC before others changes their MACs.
func DeriveMAC(box, workload string, nic int) net.HardwareAddr {
	sum := sha256.Sum256([]byte(box + "/" + workload + "/" + strconv.Itoa(nic)))
	mac := net.HardwareAddr(sum[:6:6])
	mac[0] = (mac[0] | 0x02) &^ 0x01
	return mac
}

// TAPName is the host link of NIC nic of VM vm: "t-VM-N", such as
// "t-ubuntu1-0". Names too long for a link name keep a prefix of the VM
// name and add four hex digits of its hash: "t-databas2f3a-0" for
// database-primary.
func TAPName(vm string, nic int) string { return linkName("t-", vm, nic) }

// VethName is the host side of the veth pair of NIC nic of container ct:
// "v-CT-N", shortened like TAPName. Inside the container the peer is
// ContainerIfName(nic).
func VethName(ct string, nic int) string { return linkName("v-", ct, nic) }

// PeerName is the container end of the veth pair of NIC nic of container
// ct while it is still in the box's namespace: "p-CT-N" next to the host
// end's "v-CT-N". It is renamed ContainerIfName(nic) once it is moved
// into the container.
func PeerName(ct string, nic int) string { return "p" + VethName(ct, nic)[1:] }

// ContainerIfName is the name of NIC nic inside its container: eth0, eth1...
func ContainerIfName(nic int) string { return "eth" + strconv.Itoa(nic) }

// WorkloadsCgroup is the cgroup (relative to the cgroup v2 mount) every
// VM and container runs under; its limits keep the reserve for the box.
const WorkloadsCgroup = "nucbox.workloads"

// VMCgroup is the cgroup of VM vm's QEMU: "nucbox.workloads/vm-VM".
func VMCgroup(vm string) string { return WorkloadsCgroup + "/vm-" + vm }

// ContainerCgroup is the cgroup of container ct: "nucbox.workloads/ct-CT".
func ContainerCgroup(ct string) string { return WorkloadsCgroup + "/ct-" + ct }

// VLANIfName is the VLAN interface on the bridge that holds a box address
// on VLAN id: "vlan10". It does not include the bridge name so that it fits
// any bridge name; the box has one bridge.
func VLANIfName(id int) string { return "vlan" + strconv.Itoa(id) }

func linkName(prefix, workload string, nic int) string {
	suffix := "-" + strconv.Itoa(nic)
	budget := MaxLinkName - len(prefix) - len(suffix)
	if len(workload) <= budget {
		return prefix + workload + suffix
	}
	sum := sha256.Sum256([]byte(workload))
	keep := max(budget-4, 0)
	return prefix + workload[:keep] + hex.EncodeToString(sum[:2]) + suffix
}

// ResolvePath makes a path from the config absolute: relative paths (disks,
// ISOs, kernels, volume sources) live in the state directory.
func (c *Config) ResolvePath(p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	dir := c.StateDir
	if dir == "" {
		dir = DefaultStateDir
	}
	return path.Join(dir, p)
}

// Image transports.
const (
	TransportRegistry      = "registry"
	TransportOCILayout     = "oci-layout"
	TransportDockerArchive = "docker-archive"
)

// ImageRef is a parsed container image reference.
type ImageRef struct {
	// Transport is TransportRegistry, TransportOCILayout or
	// TransportDockerArchive.
	Transport string `json:"transport"`
	// Ref is the full registry reference, with the default registry and
	// tag filled in (index.docker.io/library/nginx:latest). Only for
	// registry images.
	Ref string `json:"ref,omitempty"`
	// Registry is the registry host of Ref (index.docker.io for Docker
	// Hub); credentials are looked up by it.
	Registry string `json:"registry,omitempty"`
	// Path is the OCI layout directory or the docker-archive file, as
	// written (resolve it with ResolvePath).
	Path string `json:"path,omitempty"`
	// Tag selects an image of an OCI layout by its ref.name annotation;
	// empty means the layout's only image.
	Tag string `json:"tag,omitempty"`
}

// ParseImage is the one parser of Container.Image:
//
//	docker.io/library/nginx:1.27   a registry reference (also nginx, host:5000/x@sha256:...)
//	oci-layout:DIR                 the only image of an OCI layout directory
//	oci-layout:DIR:TAG             the image whose ref.name annotation is TAG
//	docker-archive:FILE            a "docker save" tar holding one image
func ParseImage(s string) (ImageRef, error) {
	switch {
	case strings.HasPrefix(s, TransportOCILayout+":"):
		rest := strings.TrimPrefix(s, TransportOCILayout+":")
		dir, tag := rest, ""
		if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i+1:], "/") {
			dir, tag = rest[:i], rest[i+1:]
			if tag == "" {
				return ImageRef{}, fmt.Errorf("invalid image %q: empty tag after the last colon", s)
			}
		}
		if dir == "" {
			return ImageRef{}, fmt.Errorf("invalid image %q: oci-layout: needs a directory", s)
		}
		return ImageRef{Transport: TransportOCILayout, Path: dir, Tag: tag}, nil
	case strings.HasPrefix(s, TransportDockerArchive+":"):
		file := strings.TrimPrefix(s, TransportDockerArchive+":")
		if file == "" {
			return ImageRef{}, fmt.Errorf("invalid image %q: docker-archive: needs a file", s)
		}
		return ImageRef{Transport: TransportDockerArchive, Path: file}, nil
	}
	if s == "" {
		return ImageRef{}, fmt.Errorf("empty image reference")
	}
	// Docker Hub and "latest" are filled in as docker does; the plan shows
	// the full reference so that the user sees what will be pulled.
	ref, err := name.ParseReference(s)
	if err != nil {
		return ImageRef{}, fmt.Errorf("invalid image reference %q: %v", s, err)
	}
	return ImageRef{Transport: TransportRegistry, Ref: ref.Name(), Registry: ref.Context().RegistryStr()}, nil
}

// RegistryFor returns the credentials for a registry image, or nil for
// anonymous access. Hosts match as go-containerregistry normalises them, so
// "docker.io" in the config matches "nginx:1.27".
func (c *Config) RegistryFor(image string) *Registry {
	ref, err := ParseImage(image)
	if err != nil || ref.Transport != TransportRegistry {
		return nil
	}
	for i := range c.Registries {
		if registryHost(c.Registries[i].Host) == ref.Registry {
			return &c.Registries[i]
		}
	}
	return nil
}

// registryHost normalises a registry host the way image references are.
func registryHost(h string) string {
	r, err := name.NewRegistry(h)
	if err != nil {
		return h
	}
	return r.RegistryStr()
}

// VMFile is a file a VM reads when it starts, at its absolute path on
// the box: what an image or a data partition must carry for the VM.
type VMFile struct {
	VM   string
	What string // kernel, initrd, ISO, backing image, disk
	Path string
}

// VMFiles lists the files the config's VMs read that the box does not
// make itself: kernels, initrds, ISOs, backing images, and disks given
// neither a size nor a backing image (which the box would create).
func (c *Config) VMFiles() []VMFile {
	var out []VMFile
	add := func(vm, what, p string) {
		if p != "" {
			out = append(out, VMFile{VM: vm, What: what, Path: c.ResolvePath(p)})
		}
	}
	for _, vm := range c.VMs {
		add(vm.Name, "kernel", vm.Kernel)
		add(vm.Name, "initrd", vm.Initrd)
		for _, iso := range vm.CDROMs {
			add(vm.Name, "ISO", iso)
		}
		for _, d := range vm.Disks {
			add(vm.Name, "backing image", d.Backing)
			if d.Size == 0 && d.Backing == "" {
				add(vm.Name, "disk", d.Path)
			}
		}
	}
	return out
}

// VMUserBase and VMUserRange are the uids, and the gids of the same
// numbers, that the VMs' QEMUs run as: far above the users of any image
// (containers run as their image's users, which stay below 2^31 and in
// practice below 65536), and numeric, for a box may have no /etc/passwd.
const (
	VMUserBase  = 1 << 30
	VMUserRange = 1 << 16
)

// VMUsers are the uids of the VMs named, in config order: VMUserBase plus
// a hash of the name, so that a VM keeps its uid (and so its disks) when
// others are added, removed or reordered. Two names whose hashes meet
// are told apart by the later one taking the next free uid.
func VMUsers(vms []string) []uint32 {
	used := map[uint32]bool{}
	out := make([]uint32, len(vms))
	for i, vm := range vms {
		sum := sha256.Sum256([]byte("vm-user/" + vm))
		n := (uint32(sum[0])<<8 | uint32(sum[1])) % VMUserRange
		for used[VMUserBase+n] {
			n = (n + 1) % VMUserRange
		}
		used[VMUserBase+n] = true
		out[i] = VMUserBase + n
	}
	return out
}
