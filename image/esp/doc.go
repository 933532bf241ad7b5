// Package esp names the parts of a nucbox boot disk that the image
// builder writes and the running box finds again: the GPT partition names
// and types, the ESP's volume label, where systemd-boot and its config
// live, and the file names of the two unified kernel image slots that A/B
// upgrades alternate between.
//
// It holds names only, no I/O, so that both the build side and PID 1 can
// import it without pulling in a disk library.
package esp
