//go:build !unix

package verify

import (
	"errors"
	"os"
)

// openNoFollow opens a regular file for reading (this platform has no O_NOFOLLOW).
func openNoFollow(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("not a regular file")}
	}
	return f, nil
}
