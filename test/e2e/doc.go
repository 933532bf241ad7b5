// Package e2e holds nucbox's end-to-end tests: the real appliance image,
// built from a config by `nucbox image build`, booted in QEMU with the
// Debian kernel, and judged by its serial console and QMP. The tests need
// root, QEMU and the Debian kernel (make deps); without them they skip,
// unless CI is set, when they fail.
//
// All QEMU tests of the project live in this one package so that the boots
// run one after another on the two shared cores instead of competing with
// each other. Images are built once per config and shared by the tests;
// each test boots its own machine, so that tests do not depend on each
// other's leftovers.
//
// Its benchmarks are the QEMU rows of `make bench` (P1 network ready, P4
// image sizes, P5 boot, P6 scale); they save their figures for the one
// report of package test/benchreport.
package e2e
