package pgcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNoBinariesNamesThePackage(t *testing.T) {
	none := func(string) (string, error) { return "", errors.New("not found") }
	_, err := findBinaries(none, filepath.Join(t.TempDir(), "*", "bin"))
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Fatalf("error does not name the package: %v", err)
	}
}

func TestFindBinariesPicksNewestVersion(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"13", "16", "9"} {
		bin := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"initdb", "postgres", "pg_ctl"} {
			if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	none := func(string) (string, error) { return "", errors.New("not found") }
	got, err := findBinaries(none, filepath.Join(root, "*", "bin"))
	if err != nil || got != filepath.Join(root, "16", "bin") {
		t.Fatalf("got %q %v", got, err)
	}
}

func TestStartWithoutDir(t *testing.T) {
	if _, err := Start(context.Background(), Config{}); err == nil {
		t.Fatal("want an error")
	}
}
