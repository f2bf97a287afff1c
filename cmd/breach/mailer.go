package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/breach-engine/breach/internal/config"
	"github.com/breach-engine/breach/internal/mail"
	"github.com/breach-engine/breach/internal/smtptest"
)

// newMailer opens the relay of BREACH_SMTP_*; nil when BREACH_SMTP_HOST is
// unset (serve needs none; a worker without one leaves the sending batches
// to workers that have one).
func newMailer(cfg config.Config) (*mail.Sender, error) {
	if cfg.SMTPHost == "" {
		return nil, nil
	}
	s, err := mail.NewSender(mail.FromConfig(cfg))
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	return s, nil
}

// devSavedMessages is how many letters `breach dev` keeps as .eml files.
const devSavedMessages = 200

// devMailer is the relay of `breach dev`: BREACH_SMTP_* when BREACH_SMTP_HOST
// is set; otherwise an in-process SMTP sink that delivers nothing, keeps what
// it receives in memory and saves the first letters under dir/mail, so that a
// newcomer with no relay sees what the people would get.
func devMailer(out io.Writer, cfg config.Config, dir string) (*mail.Sender, func(), error) {
	if cfg.SMTPHost != "" {
		s, err := newMailer(cfg)
		if err == nil {
			fmt.Fprintf(out, "mail goes to the relay %s:%d\n", cfg.SMTPHost, s.Config().Port)
		}
		return s, func() {}, err
	}
	mailDir := filepath.Join(dir, "mail")
	if err := os.MkdirAll(mailDir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("dev: create %s: %w", mailDir, err)
	}
	var saved atomic.Int64
	sink, err := smtptest.New(smtptest.Options{
		OnData: func(_ []string, raw []byte) error {
			if n := saved.Add(1); n <= devSavedMessages {
				_ = os.WriteFile(filepath.Join(mailDir, fmt.Sprintf("%06d.eml", n)), raw, 0o600)
			}
			return nil
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("dev: start the SMTP sink: %w", err)
	}
	from := cfg.SMTPFrom
	if from == "" {
		from = "Breach notifications <notifications@breach.localhost>"
	}
	mc := mail.FromConfig(cfg)
	mc.Host, mc.Port, mc.TLS, mc.From = sink.Host(), sink.Port(), mail.TLSNone, from
	mc.Username, mc.Password = "", ""
	s, err := mail.NewSender(mc)
	if err != nil {
		sink.Close()
		return nil, nil, &usageError{err.Error()}
	}
	fmt.Fprintf(out, "mail goes to an in-process SMTP sink on %s (BREACH_SMTP_HOST is unset): nothing is delivered;\n"+
		"the first %d letters are saved as .eml files under %s\n", sink.Addr(), devSavedMessages, strings.TrimSuffix(mailDir, "/"))
	return s, sink.Close, nil
}
