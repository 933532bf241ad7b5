// Package natsort is the one natural order of the code base: strings
// compare byte by byte, except that runs of decimal digits compare as
// numbers. So eth2 comes before eth10 (uplink selection), sdb2 before
// sdb10 (a USB stick's partitions) and vmlinuz-6.1.0-9 before
// vmlinuz-6.1.0-10 (the newest kernel), as a person reading them expects.
package natsort
