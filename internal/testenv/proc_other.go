//go:build !linux

package testenv

import (
	"errors"
	"os/user"
	"syscall"
)

// procAttr is the portable half of the Linux version: no parent-death
// signal, and no change of user.
func procAttr(runAs *user.User) (*syscall.SysProcAttr, error) {
	if runAs != nil {
		return nil, errors.New("starting a server as another user is supported on Linux only")
	}
	return &syscall.SysProcAttr{}, nil
}
