// Package randseed keeps the random seed that makes the kernel's random
// pool ready early at the next boot, on machines with no hardware source
// the kernel trusts. It holds the seed file's format, the decision whether
// a seed may be credited, and the kernel calls to mix it in and to wait
// for the pool.
//
// A seed is credited (counted as entropy) only when it is one this box
// wrote after its pool was ready, for this box, and not yet used: a seed
// file copied from another box, or written from a pool that was not
// ready, or left over from a boot that already credited it, is only mixed
// in. The file is replaced before the old seed is credited, so that a
// power cut at any point can at most lose a credit, never give one twice.
package randseed
