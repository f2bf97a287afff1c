package smtptest

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func message(id, body string) string {
	return "From: sender@example.org\r\nTo: someone@example.org\r\nMessage-ID: " + id +
		"\r\nSubject: test\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
}

// send sends one message on c and returns the server's refusal, if any.
func send(t testing.TB, c *smtp.Client, rcpt, id string) error {
	t.Helper()
	if err := c.Mail("sender@example.org", nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		_ = c.Reset()
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(message(id, "hello"))); err != nil {
		return err
	}
	return w.Close()
}

func dial(t testing.TB, s *Server) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRecordsMessages(t *testing.T) {
	s := Start(t, Options{})
	if s.Host() != "127.0.0.1" || s.Port() == 0 {
		t.Fatalf("listening on %s", s.Addr())
	}
	c := dial(t, s)
	for i := 0; i < 3; i++ {
		if err := send(t, c, fmt.Sprintf("p%d@example.org", i%2), fmt.Sprintf("<m%d@example.org>", i%2)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Count() != 3 || s.ByMessageID("<m0@example.org>") != 2 || s.ByMessageID("<m1@example.org>") != 1 ||
		s.ByRecipient("P0@example.org") != 2 || s.ByRecipient("p1@example.org") != 1 {
		t.Errorf("counts: %d %d %d", s.Count(), s.ByMessageID("<m0@example.org>"), s.ByRecipient("p0@example.org"))
	}
	if d := s.Duplicates(); len(d) != 1 || d["<m0@example.org>"] != 2 {
		t.Errorf("duplicates %v", d)
	}
	ms := s.Messages()
	if len(ms) != 3 || ms[0].From != "sender@example.org" || ms[0].To[0] != "p0@example.org" ||
		ms[0].MessageID != "<m0@example.org>" || ms[0].Header("Subject") != "test" || ms[0].Conn != ms[2].Conn {
		t.Errorf("messages %+v", ms)
	}
	text, html, err := ms[0].Parts()
	if err != nil || string(text) != "hello\r\n" || html != nil {
		t.Errorf("parts %q %q %v", text, html, err)
	}
	st := s.Stats()
	if st.Connections != 1 || st.Messages != 3 || st.Recipients != 3 || st.Bytes == 0 {
		t.Errorf("stats %+v", st)
	}
	s.Reset()
	if s.Count() != 0 || len(s.Messages()) != 0 || s.ByMessageID("<m0@example.org>") != 0 {
		t.Error("Reset kept records")
	}
}

func TestFaultInjection(t *testing.T) {
	s := Start(t, Options{
		OnRcpt: FirstOf(
			Reject(Temporary("try later"), "busy@example.org"),
			Reject(Permanent("no such user"), "gone@example.org"),
		),
		OnData: func(rcpts []string, raw []byte) error {
			if strings.Contains(string(raw), "spam") {
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "rejected"}
			}
			return nil
		},
	})
	c := dial(t, s)
	var se *smtp.SMTPError
	if err := send(t, c, "busy@example.org", "<a@x>"); !errors.As(err, &se) || se.Code != 451 || se.Message != "try later" {
		t.Errorf("busy: %v", err)
	}
	if err := send(t, c, "GONE@example.org", "<b@x>"); !errors.As(err, &se) || se.Code != 550 {
		t.Errorf("gone: %v", err)
	}
	if err := send(t, c, "ok@example.org", "<c@x>"); err != nil {
		t.Errorf("ok: %v", err)
	}
	// A refusal at the end of DATA.
	if err := c.Mail("sender@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("ok@example.org", nil); err != nil {
		t.Fatal(err)
	}
	w, _ := c.Data()
	w.Write([]byte(message("<d@x>", "spam")))
	if err := w.Close(); !errors.As(err, &se) || se.Code != 554 {
		t.Errorf("data: %v", err)
	}
	st := s.Stats()
	if st.Messages != 1 || st.TempFailures != 1 || st.PermFailures != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestShareIsRandomButSeeded(t *testing.T) {
	f, g := Share(0.3, 7, Temporary("x")), Share(0.3, 7, Temporary("x"))
	hits := 0
	for i := 0; i < 10000; i++ {
		a, b := f("p"), g("p")
		if (a == nil) != (b == nil) {
			t.Fatal("same seed, different draws")
		}
		if a != nil {
			hits++
		}
	}
	if hits < 2500 || hits > 3500 {
		t.Errorf("%d hits of 10000 for a share of 0.3", hits)
	}
}

func TestStopAndRestartOnTheSamePort(t *testing.T) {
	s := Start(t, Options{})
	port := s.Port()
	c := dial(t, s)
	if err := send(t, c, "a@example.org", "<1@x>"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Stop() // twice is fine
	if s.Running() {
		t.Error("running after Stop")
	}
	if err := send(t, c, "a@example.org", "<2@x>"); err == nil {
		t.Error("an open connection still works after Stop")
	}
	if _, err := smtp.Dial(s.Addr()); err == nil {
		t.Error("dial works after Stop")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Port() != port || !s.Running() {
		t.Errorf("port %d after restart, was %d", s.Port(), port)
	}
	c2 := dial(t, s)
	if err := send(t, c2, "a@example.org", "<3@x>"); err != nil {
		t.Fatal(err)
	}
	if s.Count() != 2 || s.ByRecipient("a@example.org") != 2 {
		t.Errorf("count %d after restart", s.Count())
	}
}

func TestAuthPlain(t *testing.T) {
	s := Start(t, Options{Auth: &Credentials{Username: "u", Password: "p"}})
	c := dial(t, s)
	if err := send(t, c, "a@example.org", "<1@x>"); err == nil {
		t.Error("MAIL accepted without AUTH")
	}
	if err := c.Auth(sasl.NewPlainClient("", "u", "wrong")); err == nil {
		t.Error("wrong password accepted")
	}
	if err := c.Auth(sasl.NewPlainClient("", "u", "p")); err != nil {
		t.Fatal(err)
	}
	if err := send(t, c, "a@example.org", "<2@x>"); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Messages != 1 || st.AuthFailures != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSTARTTLSAndImplicitTLS(t *testing.T) {
	serverTLS, clientTLS, err := SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	s := Start(t, Options{TLSConfig: serverTLS})
	c, err := smtp.DialStartTLS(s.Addr(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := send(t, c, "a@example.org", "<1@x>"); err != nil {
		t.Fatal(err)
	}
	plain := Start(t, Options{})
	pc := dial(t, plain)
	if err := pc.Hello("client"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := pc.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered by default")
	}
	implicit := Start(t, Options{TLSConfig: serverTLS, ImplicitTLS: true})
	ic, err := smtp.DialTLS(implicit.Addr(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := send(t, ic, "a@example.org", "<2@x>"); err != nil {
		t.Fatal(err)
	}
}

// TestCountOnlyKeepsMemoryFlat: with CountOnly, messages are counted, not
// kept: the heap after 20,000 messages is about what it was after 1,000.
func TestCountOnlyKeepsMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 21,000 messages")
	}
	s := Start(t, Options{CountOnly: true})
	body := strings.Repeat(strings.Repeat("x", 98)+"\r\n", 20)
	run := func(n int) {
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := smtp.Dial(s.Addr())
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				for i := 0; i < n/4; i++ {
					if err := c.Mail("s@example.org", nil); err != nil {
						t.Error(err)
						return
					}
					c.Rcpt(fmt.Sprintf("p%d@example.org", i), nil)
					wc, _ := c.Data()
					wc.Write([]byte(message(fmt.Sprintf("<%d.%d@x>", w, i), body)))
					if err := wc.Close(); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	run(1000)
	before := heap()
	run(20000)
	after := heap()
	if s.Count() != 21000 || s.Stats().Bytes < 21000*2000 {
		t.Fatalf("count %d", s.Count())
	}
	if len(s.Messages()) != 0 || s.ByMessageID("<0.0@x>") != 0 {
		t.Error("CountOnly kept messages")
	}
	// 20,000 messages of 2 kB kept would be 40 MB; allow 4 MB of noise.
	if after > before+4<<20 {
		t.Errorf("heap grew from %d to %d bytes", before, after)
	}
}
