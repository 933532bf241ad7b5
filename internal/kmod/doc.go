// Package kmod owns kernel modules, for the box and for the image
// builder alike: one module database (DB) read from depmod's files in
// /lib/modules/<release> (modules.dep, modules.builtin, modules.alias,
// modules.softdep), resolving names and aliases to modules with their
// dependencies in load order, and matching device modaliases against the
// aliases with fnmatch's rules, as modprobe does.
//
// The image builder chooses an image's modules with DB.Select (hard and
// soft dependencies, aliases allowed) and trims depmod's files to them
// with Set.Trim. The box loads from the image's DB with a Loader: Load
// (by name, several at a time, each after what it needs), Coldplug (the
// drivers for the devices present at boot) and Hotplug (the drivers for
// devices that appear later, from the kernel's uevents). BaseModules and
// HardwareModules are the lists both sides agree on: what every boot
// loads, and what coldplug may need and the image therefore carries.
//
// The package holds no state of its own: a DB is read once and not
// changed, and a Loader is the one value that knows what it loaded.
package kmod
