// Package inject puts panics into the product where a test asks for
// them, to show that a component's panic is recovered and the component
// restarted. Point marks a place in a component's loop; without the
// build tag panicinject it does nothing and costs nothing. Built with the
// tag, Point panics once for each name armed by Arm or listed, comma
// separated, in $NUCBOX_PANIC at start or in the file PanicFile when
// Point runs (so a running appliance can be told to panic).
package inject
