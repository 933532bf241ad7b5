//go:build !panicinject

package inject

// Enabled reports whether the build has the injection points.
const Enabled = false

// Point does nothing without the build tag panicinject.
func Point(string) {}

// Arm does nothing without the build tag panicinject.
func Arm(string) {}

// Hang does nothing without the build tag panicinject.
func Hang(string, func(format string, args ...any)) {}
