package smtptest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"strings"
)

// Parts decodes the message's first text/plain and first text/html parts,
// undoing their transfer encoding (quoted-printable, base64), whether the
// message is a single part or multipart (nested or not). A part that is
// absent is nil.
func (m Message) Parts() (text, html []byte, err error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return nil, nil, fmt.Errorf("smtptest: read message: %w", err)
	}
	found := map[string][]byte{}
	err = walkPart(textproto.MIMEHeader(msg.Header), msg.Body, found)
	return found["text/plain"], found["text/html"], err
}

func walkPart(h textproto.MIMEHeader, body io.Reader, found map[string][]byte) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("smtptest: content type: %w", err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("smtptest: multipart: %w", err)
			}
			if err := walkPart(p.Header, p, found); err != nil {
				return err
			}
		}
	}
	if _, seen := found[mt]; seen {
		return nil
	}
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &stripNewlines{r: body})
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("smtptest: decode %s: %w", mt, err)
	}
	found[mt] = b
	return nil
}

// stripNewlines drops CR and LF from base64 text.
type stripNewlines struct{ r io.Reader }

func (s *stripNewlines) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' {
			p[j] = b
			j++
		}
	}
	return j, err
}
