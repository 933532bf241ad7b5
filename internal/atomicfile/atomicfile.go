package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data, like os.WriteFile but atomically and
// durably. perm is applied exactly (the umask does not narrow it), so the
// result does not depend on which process happened to write the file.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Replace(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, perm)
}

// Replace calls write with a temporary file in path's directory and, when
// it returns nil, renames that file over path. When write fails (or
// panics) path is left as it was and the temporary file is removed.
//
// The temporary file is fsynced before the rename and the directory after
// it: without the first, ext4 may commit the rename before the data and a
// crash leaves a zero-length file; without the second, the rename itself
// may be lost. If path is a symlink, the link is replaced, not its target.
func Replace(path string, write func(io.Writer) error, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	tmp := f.Name()
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	committed = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("atomicfile: sync %s: %w", dir, err)
	}
	return nil
}
