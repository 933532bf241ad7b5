// Package atomicfile replaces files so that a reader, or the next boot
// after a power cut, sees either the old content or the new content, never
// a mix or a truncated file. The box is switched off by pulling the plug,
// and its state directory lives on a USB stick: a plain os.WriteFile there
// can leave an empty config or lease file behind.
package atomicfile
