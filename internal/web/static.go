package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

// The static files are part of the binary: our stylesheet and script, and
// htmx (2.x, from the npm registry, with its licence). Nothing is loaded from
// elsewhere.
//
//go:embed static
var staticFiles embed.FS

// staticFile is one embedded file with its content hash.
type staticFile struct {
	body    []byte
	version string
	ctype   string
}

var statics = loadStatics()

func loadStatics() map[string]staticFile {
	out := map[string]staticFile{}
	entries, err := fs.ReadDir(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		body, err := staticFiles.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		ctype := "application/octet-stream"
		switch path.Ext(e.Name()) {
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		case ".LICENSE", ".txt":
			ctype = "text/plain; charset=utf-8"
		}
		out[e.Name()] = staticFile{body: body, version: hex.EncodeToString(sum[:6]), ctype: ctype}
	}
	return out
}

// assetURL is the address of a static file, versioned by its content so that
// it can be cached for good.
func assetURL(name string) string {
	f, ok := statics[name]
	if !ok {
		panic("web: no static file " + name)
	}
	return "/static/" + name + "?v=" + f.version
}

func serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := statics[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.ctype)
	if r.URL.Query().Get("v") == f.version {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", `"`+f.version+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
