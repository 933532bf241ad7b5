package uki

import (
	"debug/pe"
	"fmt"
	"io"
)

// ReadSection returns one payload section of an image without reading
// the rest: the box reads its slots' .osrel after every boot, and a whole
// image (kernel and initramfs, tens of MiB) read into memory for it stays
// in PID 1's resident memory.
func ReadSection(r io.ReaderAt, name string) ([]byte, error) {
	f, err := pe.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("uki: %w", err)
	}
	s := f.Section(name)
	if s == nil {
		return nil, fmt.Errorf("uki: no %s section", name)
	}
	n := min(s.VirtualSize, s.Size)
	b := make([]byte, n)
	if _, err := s.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("uki: section %s: %w", name, err)
	}
	return b, nil
}

// CopySection writes one payload section of an image to w without
// holding it in memory: a box serving its own kernel and initramfs to a
// rack copies them out of its image.
func CopySection(r io.ReaderAt, name string, w io.Writer) (int64, error) {
	f, err := pe.NewFile(r)
	if err != nil {
		return 0, fmt.Errorf("uki: %w", err)
	}
	s := f.Section(name)
	if s == nil {
		return 0, fmt.Errorf("uki: no %s section", name)
	}
	n, err := io.Copy(w, io.NewSectionReader(s, 0, int64(min(s.VirtualSize, s.Size))))
	if err != nil {
		return n, fmt.Errorf("uki: section %s: %w", name, err)
	}
	return n, nil
}
