//go:build !linux

package vmm

// StateDirWarning only knows Linux file systems; elsewhere (nucbox plan on
// a laptop) there is nothing to warn about.
func StateDirWarning(dir string) string { return "" }
