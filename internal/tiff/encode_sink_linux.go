package tiff

import (
	"os"
	"syscall"
)

// fallocInsertRange is FALLOC_FL_INSERT_RANGE (linux/falloc.h).
const fallocInsertRange = 0x20

// insertRangeBlock is the block size of f's file system when it can insert
// ranges into files, 0 when it cannot. f must be empty; it is left empty.
func insertRangeBlock(f *os.File) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil || st.Bsize <= 0 {
		return 0, nil
	}
	block := int64(st.Bsize)
	if _, err := f.WriteAt(make([]byte, block), 0); err != nil {
		return 0, err
	}
	ok := syscall.Fallocate(int(f.Fd()), fallocInsertRange, 0, block) == nil
	if err := f.Truncate(0); err != nil {
		return 0, err
	}
	if ok {
		return block, nil
	}
	return 0, nil
}

// insertRange inserts n bytes (a multiple of the block size) of zeros at
// the start of f, moving its contents without copying them.
func insertRange(f *os.File, n int64) error {
	return syscall.Fallocate(int(f.Fd()), fallocInsertRange, 0, n)
}
