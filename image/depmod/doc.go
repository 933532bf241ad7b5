// Package depmod writes the module indexes depmod makes at kernel
// install time (modules.dep, modules.alias, modules.softdep) for a
// /lib/modules/RELEASE directory unpacked from a kernel package, which
// ships the modules but not the indexes. It reads each module's ELF
// symbol table (what it uses, from .symtab; what it exports, from
// __ksymtab_strings) and its .modinfo section, as kmod's depmod does.
//
// Only the text files are written: the box's loader and busybox's
// modprobe read those, and an image carries no .bin indexes anyway.
package depmod
