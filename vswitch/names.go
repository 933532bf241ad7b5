package vswitch

import "strings"

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
