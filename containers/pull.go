package containers

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/zstd"
)

// refNameAnnotation tags an image inside an OCI layout.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// open resolves a source to an image without fetching its layers.
func open(ctx context.Context, src Source) (v1.Image, error) {
	switch src.Transport {
	case TransportRegistry:
		var opts []name.Option
		if src.Insecure {
			opts = append(opts, name.Insecure)
		}
		ref, err := name.ParseReference(src.Ref, opts...)
		if err != nil {
			return nil, err
		}
		auth := authn.Anonymous
		if src.Auth != nil && src.Auth.Username != "" {
			auth = &authn.Basic{Username: src.Auth.Username, Password: src.Auth.Password}
		}
		// The box is amd64; an index resolves to that platform's image.
		return remote.Image(ref, remote.WithContext(ctx), remote.WithAuth(auth),
			remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	case TransportOCILayout:
		return layoutImage(src.Path, src.Tag)
	case TransportDockerArchive:
		// nil tag: the archive must hold exactly one image.
		return tarball.ImageFromPath(src.Path, nil)
	}
	return nil, fmt.Errorf("unknown image transport %q", src.Transport)
}

// layoutImage picks the image of an OCI layout: the one whose ref.name
// annotation is tag, or the only one.
func layoutImage(dir, tag string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var found []v1.Descriptor
	for _, d := range m.Manifests {
		if tag == "" || d.Annotations[refNameAnnotation] == tag {
			found = append(found, d)
		}
	}
	switch {
	case len(found) == 0 && tag != "":
		return nil, fmt.Errorf("OCI layout %s has no image tagged %q", dir, tag)
	case len(found) != 1:
		return nil, fmt.Errorf("OCI layout %s holds %d images: name one with oci-layout:DIR:TAG", dir, len(found))
	}
	if found[0].MediaType.IsIndex() {
		ii, err := idx.ImageIndex(found[0].Digest)
		if err != nil {
			return nil, err
		}
		im, err := ii.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, d := range im.Manifests {
			if d.Platform == nil || (d.Platform.OS == "linux" && d.Platform.Architecture == "amd64") {
				return ii.Image(d.Digest)
			}
		}
		return nil, fmt.Errorf("OCI layout %s: no linux/amd64 image", dir)
	}
	return idx.Image(found[0].Digest)
}

// imageDigest identifies an image. A docker-save tar has no manifest
// digest of its own; its config digest identifies it as well.
func imageDigest(im v1.Image, src Source) (string, error) {
	var h v1.Hash
	var err error
	if src.Transport == TransportDockerArchive {
		h, err = im.ConfigName()
	} else {
		h, err = im.Digest()
	}
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// uncompress undoes a layer's gzip or zstd compression, judged by its
// first bytes as the media type of docker-save tars is not reliable.
func uncompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}
