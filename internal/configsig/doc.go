// Package configsig owns signed configs: the key files that
// `nucbox config keygen` writes, the detached signature that
// `nucbox config sign` writes, where an image carries the public key
// (PublicKeyPath), where a config URL's signature is (SignatureURL: the
// URL with .sig added to its path), and the check a box makes on a config
// it fetched (Verify). Image, boot and the CLI all use it, so that they
// cannot disagree on a format.
//
// The keys are Ed25519, in the PEM files OpenSSL uses for them: the
// private key as PKCS #8 ("PRIVATE KEY", as `openssl genpkey -algorithm
// ed25519` writes it), the public key as PKIX ("PUBLIC KEY", as
// `openssl pkey -pubout` writes it). A signature is plain Ed25519 over the
// exact bytes of the config file, no hashing or framing of its own, so
// that a provisioning server can also sign with OpenSSL
// (`openssl pkeyutl -sign -rawin`) or any Ed25519 library. The .sig file
// holds the 64 signature bytes in standard base64 on one line; Verify
// also takes the 64 raw bytes, which is what OpenSSL writes.
//
// A signature says who wrote a config, not which machine it is for nor
// whether it is the newest: someone on the network can still hand a box
// another machine's signed config, or an older one.
package configsig
