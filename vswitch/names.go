package vswitch

import (
	"strings"

	"github.com/nucbox/nucbox/config"
)

// Links nucbox creates carry an alias starting with aliasPrefix; anything
// else is somebody else's and is never changed or deleted by Reconcile.
const (
	aliasPrefix = "nucbox:"
	aliasBridge = aliasPrefix + "bridge"
	aliasPort   = aliasPrefix + "port:"
	aliasPeer   = aliasPrefix + "peer:"
	aliasVLAN   = aliasPrefix + "vlan:"
)

// Owned reports whether a link alias marks a link nucbox created.
func Owned(alias string) bool { return strings.HasPrefix(alias, aliasPrefix) }

func portAlias(p Port) string { return aliasPort + p.Label }

// PeerName is the container end of a veth port while it still sits in the
// box's namespace: "p-CT-N" next to the host end's "v-CT-N". The
// containers package moves it and renames it to eth0, eth1...
func PeerName(ct string, nic int) string { return "p" + config.VethName(ct, nic)[1:] }

// vlanLinkName is the VLAN interface holding box addresses on VLAN vid.
func vlanLinkName(vid int) string { return config.VLANIfName(vid) }
