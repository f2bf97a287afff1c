package api_test

import (
	"testing"

	"github.com/breach-engine/breach/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
