package web_test

import (
	"os"
	"testing"

	"github.com/queueless/queueless/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveServerBinaries()
	os.Exit(code)
}
