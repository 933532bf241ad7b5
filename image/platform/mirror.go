package platform

import (
	"os"
	"strings"
)

// DefaultMirrorURL is where the packages come from unless --mirror or
// NUCBOX_MIRROR says otherwise: the host that serves both debian/ and
// debian-security/, as Debian's own sources name it.
const DefaultMirrorURL = "http://deb.debian.org"

// MirrorEnv names the environment variable that overrides the mirror.
const MirrorEnv = "NUCBOX_MIRROR"

// DefaultMirror is $NUCBOX_MIRROR, or DefaultMirrorURL.
func DefaultMirror() string {
	if m := strings.TrimSpace(os.Getenv(MirrorEnv)); m != "" {
		return strings.TrimRight(m, "/")
	}
	return DefaultMirrorURL
}
