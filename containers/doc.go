// Package containers runs OCI images with libcontainer: image retrieval,
// rootfs assembly, lifecycle, container networking and logs.
package containers
