//go:build unix

package verify

import (
	"errors"
	"os"
	"syscall"
)

// openNoFollow opens a regular file for reading without following a symbolic link in its
// last component; O_NONBLOCK keeps a FIFO put in the file's place from blocking the open.
func openNoFollow(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("not a regular file")}
	}
	return f, nil
}
