// Package apiclient is the JSON API's client, used by the `breach` commands
// that act on incidents: the CLI goes through the same door, the same role
// checks and the same audit as the web pages.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/breach-engine/breach/internal/breach"
)

// Client calls a `breach serve`.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8080
	Token   string
	HTTP    *http.Client
}

// New returns a client for baseURL authenticated with token.
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token, HTTP: &http.Client{Timeout: 2 * time.Minute}}
}

// Do sends a request with an optional JSON body and decodes a JSON answer
// into out (when out is non-nil). A non-2xx answer becomes the *breach.Error
// the server sent, so callers see the field at fault.
func (c *Client) Do(ctx context.Context, method, path string, body, out any, headers ...string) error {
	raw, err := c.Raw(ctx, method, path, body, headers...)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("apiclient: decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// Raw is Do without decoding: it returns the answer's body.
func (c *Client) Raw(ctx context.Context, method, path string, body any, headers ...string) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		if b, ok := body.(json.RawMessage); ok {
			rd = bytes.NewReader(b)
		} else {
			buf, err := json.Marshal(body)
			if err != nil {
				return nil, fmt.Errorf("apiclient: encode %s %s: %w", method, path, err)
			}
			rd = bytes.NewReader(buf)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("apiclient: read answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error *breach.Error `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != nil {
			return nil, e.Error
		}
		return nil, fmt.Errorf("apiclient: %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	return raw, nil
}
