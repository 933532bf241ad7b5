package containers

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzUnpackLayer feeds arbitrary bytes to the layer unpacker as an
// uncompressed layer, with small limits. No input may panic, write
// outside the layer directory, or leave more in it than the limits allow.
// Half the inputs go through unpackVerified (overlay whiteouts, the DiffID
// being the input's own hash), half are flattened. The corpus in
// testdata/fuzz/FuzzUnpackLayer runs with every `go test`.
func FuzzUnpackLayer(f *testing.F) {
	lim := LayerLimits{MaxBytes: 1 << 20, MaxEntries: 256, FreeReserve: -1}
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		sentinel := filepath.Join(parent, "sentinel")
		if err := os.WriteFile(sentinel, []byte("host"), 0o600); err != nil {
			t.Fatal(err)
		}
		var err error
		if len(data)%2 == 0 {
			err = lim.unpackVerified(bytes.NewReader(data), root, sha(data))
		} else {
			err = lim.unpack(bytes.NewReader(data), root, Flatten)
		}
		ents, rerr := os.ReadDir(parent)
		if rerr != nil {
			t.Fatal(rerr)
		}
		for _, e := range ents {
			if e.Name() != "root" && e.Name() != "sentinel" {
				t.Fatalf("%s written beside the layer directory (unpack error: %v)", e.Name(), err)
			}
		}
		if b, rerr := os.ReadFile(sentinel); rerr != nil || string(b) != "host" {
			t.Fatalf("file beside the layer directory changed: %q, %v", b, rerr)
		}
		if err != nil {
			return
		}
		var n, size int64
		werr := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != root && !strings.HasPrefix(p, root+"/") {
				t.Fatalf("walk left the root: %s", p)
			}
			n++
			if d.Type().IsRegular() {
				fi, err := d.Info()
				if err != nil {
					return err
				}
				size += fi.Size()
			}
			return nil
		})
		if werr != nil {
			t.Fatal(werr)
		}
		// Hard links count once per name here, once per entry there.
		if n > lim.MaxEntries+1 || size > lim.MaxBytes*lim.MaxEntries {
			t.Fatalf("unpacked %d entries, %d bytes: over the limits", n, size)
		}
	})
}
