package testenv

import (
	"os/exec"
	"testing"
)

// LookTool returns the path of program name, or ends the test as a missing
// service does: a skip on a developer's machine, a failure in CI. hint says
// how to install it.
func LookTool(t testing.TB, name, hint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		requireTool(t, name, hint)
	}
	return path
}
