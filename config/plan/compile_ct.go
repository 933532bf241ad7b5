package plan

import (
	"fmt"
	"maps"
	"slices"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/containers"
	"github.com/nucbox/nucbox/vswitch"
)

// transports maps config's image transports onto the containers package's.
var transports = map[string]string{
	config.TransportRegistry:      containers.TransportRegistry,
	config.TransportOCILayout:     containers.TransportOCILayout,
	config.TransportDockerArchive: containers.TransportDockerArchive,
}

// container compiles one container: the image resolved (reference parsed,
// path absolute, registry credentials found), volumes absolute, and each
// NIC's veth port, whose peer becomes eth0, eth1... inside.
func (b *compiler) container(ct config.Container) containers.Spec {
	c := b.c
	s := containers.Spec{
		Name:        ct.Name,
		Entrypoint:  slices.Clone(ct.Entrypoint),
		Command:     slices.Clone(ct.Command),
		Env:         maps.Clone(ct.Env),
		WorkDir:     ct.WorkDir,
		User:        ct.User,
		Memory:      int64(ct.Memory),
		CPUs:        ct.CPUs,
		PIDs:        ct.PIDs,
		Restart:     string(ct.Restart),
		StopTimeout: ct.StopTimeout.Std(),
		Cgroup:      config.ContainerCgroup(ct.Name),
	}
	ref, err := config.ParseImage(ct.Image)
	if err != nil {
		b.fail("%s: image: %w", ct.Name, err)
	}
	s.Image = containers.Source{Transport: transports[ref.Transport], Ref: ref.Ref, Registry: ref.Registry,
		Path: b.resolve(ref.Path), Tag: ref.Tag}
	if r := c.RegistryFor(ct.Image); r != nil {
		s.Image.Auth = &containers.Auth{Username: r.Username, Password: r.Password}
	}
	for _, v := range ct.Volumes {
		s.Volumes = append(s.Volumes, containers.Volume{Source: b.resolve(v.Source), Target: v.Target, ReadOnly: v.ReadOnly})
	}
	for i, n := range ct.NICs {
		nic := containers.NIC{Port: b.nicPort(vswitch.KindVeth, ct.Name, i, n), Name: config.ContainerIfName(i)}
		nic.IPv4.DHCP = n.IPv4.DHCP
		nic.IPv4.Address, nic.IPv4.Gateway = b.ipv4(fmt.Sprintf("%s: NIC %d: ipv4", ct.Name, i), n.IPv4)
		nic.IPv6 = b.ipv6(fmt.Sprintf("%s: NIC %d: ipv6", ct.Name, i), n.IPv6)
		s.NICs = append(s.NICs, nic)
	}
	return s
}
