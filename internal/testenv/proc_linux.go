package testenv

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"
)

// procAttr returns how to start a private server: as runAs when it is not
// nil (PostgreSQL refuses to run as root, and CI runs as root), and killed
// with the test binary should that die first, say on a -timeout panic, so
// that no orphan keeps its port.
func procAttr(runAs *user.User) (*syscall.SysProcAttr, error) {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if runAs == nil {
		return attr, nil
	}
	uid, err := strconv.ParseUint(runAs.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", runAs.Username, runAs.Uid, err)
	}
	gid, err := strconv.ParseUint(runAs.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", runAs.Username, runAs.Gid, err)
	}
	attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return attr, nil
}
