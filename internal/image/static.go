package image

import (
	"debug/elf"
	"fmt"
	"os"
	"strings"
)

// CheckStatic fails unless file is an ELF executable without a program
// interpreter: the images have no libc to load.
func CheckStatic(file string) error {
	if _, err := os.Stat(file); err != nil {
		return err
	}
	f, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("%s: not an ELF executable: %w", file, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			hint := "build it with CGO_ENABLED=0"
			if strings.Contains(file, "busybox") {
				hint = "install Debian's busybox-static"
			}
			return fmt.Errorf("%s is dynamically linked; images need static binaries (%s)", file, hint)
		}
	}
	return nil
}
