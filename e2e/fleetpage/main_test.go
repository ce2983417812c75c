package fleetpage

import (
	"os"
	"testing"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// shoal is the binary built once for every test in the package.
var shoal harness.Binary

func TestMain(m *testing.M) { os.Exit(shoal.Main(m)) }
