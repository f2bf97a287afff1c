package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPeopleGenerate(t *testing.T) {
	dir := t.TempDir()
	csvFile, jsonlGz := filepath.Join(dir, "p.csv"), filepath.Join(dir, "p.jsonl.gz")
	if out, code := run(t, "", "people", "generate", "--count", "100", "--out", csvFile, "--seed", "3"); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	b, _ := os.ReadFile(csvFile)
	if lines := bytes.Count(b, []byte{'\n'}); lines != 101 || !bytes.HasPrefix(b, []byte("email,first_name,last_name,phone,language,account_id\n")) {
		t.Fatalf("%d lines:\n%s", lines, b[:200])
	}
	again, _ := run(t, "", "people", "generate", "--count", "100", "--out", "-", "--seed", "3")
	if again != string(b) {
		t.Fatal("the same seed gave another file")
	}
	if out, code := run(t, "", "people", "generate", "--count", "10", "--out", jsonlGz); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	f, _ := os.Open(jsonlGz)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if bytes.Count(plain, []byte{'\n'}) != 10 || plain[0] != '{' {
		t.Fatalf("jsonl.gz: %s", plain)
	}
	if _, code := run(t, "", "people", "generate", "--count", "10", "--out", "x", "--format", "xml"); code != exitInvalid {
		t.Fatalf("bad format: exit %d", code)
	}
}

// TestPeopleImportCommand runs the command against a stand-in server: the
// real path (parsing, sealing, COPY) is tested in internal/api and bench.
func TestPeopleImportCommand(t *testing.T) {
	var got struct {
		path, query, expect string
		body                []byte
	}
	answer := `{"loaded":99,"merged":1,"rejected":0,"rejects":[],"format":"csv","encoding":"utf-8","first_id":1,"last_id":99}`
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.path, got.query, got.expect = r.URL.Path, r.URL.RawQuery, r.Header.Get("Expect")
		got.body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	t.Setenv("BREACH_URL", srv.URL)
	t.Setenv("BREACH_TOKEN", "brt_test")

	dir := t.TempDir()
	file := filepath.Join(dir, "p.csv")
	if _, code := run(t, "", "people", "generate", "--count", "100", "--out", file); code != 0 {
		t.Fatal("generate")
	}
	content, _ := os.ReadFile(file)

	out, code := run(t, "", "people", "import", "--incident", "inc-1", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if got.path != "/api/v1/incidents/inc-1/people/import" || got.expect != "100-continue" || !bytes.Equal(got.body, content) {
		t.Fatalf("request %s %q expect %q, %d bytes", got.path, got.query, got.expect, len(got.body))
	}
	// Not a terminal: plain progress lines, then the summary.
	if !strings.Contains(out, "breach: import: 100 rows") || !strings.Contains(out, "imported: loaded 99, merged 1, rejected 0") {
		t.Fatalf("output:\n%s", out)
	}

	// Rejected rows, all-or-nothing: exit 2, the rejects written to a file.
	status = http.StatusBadRequest
	answer = `{"error":{"code":"invalid","field":"file","message":"2 row(s) rejected, nothing imported (first: line 3: email: missing)"},` +
		`"loaded":0,"merged":0,"rejected":2,"rejects":[{"line":3,"reason":"email: missing"},{"line":9,"reason":"phone: bad"}]}`
	rejects := filepath.Join(dir, "rejects.csv")
	out, code = run(t, "", "people", "import", "--incident", "inc-1", "--skip-invalid", "--format", "csv", "--rejects", rejects, file)
	if code != exitInvalid || !strings.Contains(out, "line 3") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if got.query != "format=csv&skip_invalid=true" {
		t.Fatalf("query %q", got.query)
	}
	if b, _ := os.ReadFile(rejects); string(b) != "line,reason\n3,email: missing\n9,phone: bad\n" {
		t.Fatalf("rejects file:\n%s", b)
	}

	// Other refusals come back as the server's error.
	status, answer = http.StatusForbidden, `{"error":{"code":"forbidden","message":"role \"approver\" may not import people"}}`
	if out, code = run(t, "", "people", "import", "--incident", "inc-1", file); code != exitError || !strings.Contains(out, "may not import") {
		t.Fatalf("403: exit %d: %s", code, out)
	}
	if _, code = run(t, "", "people", "import", file); code != exitInvalid {
		t.Fatalf("missing --incident: exit %d", code)
	}
}

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 1000, false, false)
	c := newSendCounter(strings.NewReader("h\na\nb\n"), false)
	io.ReadAll(c)
	p.draw(c, false)
	if !strings.Contains(buf.String(), "2 rows") || !strings.Contains(buf.String(), "6 B/1000 B") {
		t.Fatalf("%q", buf.String())
	}
	p.tty = true
	buf.Reset()
	p.draw(c, true)
	if !strings.HasPrefix(buf.String(), "\r[") || !strings.HasSuffix(buf.String(), "\n") {
		t.Fatalf("%q", buf.String())
	}
	// gzip: lines are counted on the decompressed stream.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, strings.Repeat("x,y\n", 5000))
	zw.Close()
	gc := newSendCounter(bytes.NewReader(gz.Bytes()), true)
	io.ReadAll(gc)
	gc.close()
	if gc.lines.Load() != 5000 || gc.bytes.Load() != int64(gz.Len()) {
		t.Fatalf("gzip counts %d lines %d bytes", gc.lines.Load(), gc.bytes.Load())
	}
	if humanInt(1234567) != "1,234,567" || humanInt(12) != "12" {
		t.Fatal(humanInt(1234567))
	}
}
