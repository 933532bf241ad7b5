// Package inject puts panics and hangs into the product where a test
// asks for them, to show that a component's panic is recovered and the
// component restarted, and that a boot stuck somewhere still ends. Point
// and Hang mark places in the product; without the build tag panicinject
// they do nothing and cost nothing. Built with the tag, Point panics once
// for each name armed by Arm or listed, comma separated, in $NUCBOX_PANIC
// at start or in the file PanicFile when Point runs (so a running
// appliance can be told to panic); Hang blocks for each name armed by
// ArmHang or listed in $NUCBOX_HANG at start.
package inject
