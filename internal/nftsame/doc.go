// Package nftsame tells whether the kernel holds exactly the nftables
// table a component wants, so that the box's firewall and its port
// policies send a transaction only when something differs: an apply that
// changes nothing leaves the kernel's rules, and their counters, alone.
package nftsame
