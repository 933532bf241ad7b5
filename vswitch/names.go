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

// PortName is the user's name of the workload port whose link carries
// alias: web.0 for NIC 0 of workload web (label "ct/web/0" or
// "vm/web/0"); "" for other links.
func PortName(alias string) string {
	label, ok := strings.CutPrefix(alias, aliasPort)
	if !ok {
		return ""
	}
	parts := strings.Split(label, "/")
	if len(parts) != 3 {
		return label
	}
	return parts[1] + "." + parts[2]
}
