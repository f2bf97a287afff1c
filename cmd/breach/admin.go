package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

func newRegisterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "register", Short: "The Art. 33(5) register of every breach, notified or not"}
	var format, out string
	export := &cobra.Command{
		Use: "export --format csv|json [--out FILE]", Short: "Export the register", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "csv" && format != "json" {
				return breach.Invalid("--format", "must be csv or json")
			}
			c, err := apiClient()
			if err != nil {
				return err
			}
			raw, err := c.Raw(cmd.Context(), http.MethodGet, "/api/v1/register?format="+format, nil)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(raw)
				return err
			}
			return os.WriteFile(out, raw, 0o600)
		},
	}
	export.Flags().StringVar(&format, "format", "json", "csv or json")
	export.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")
	cmd.AddCommand(export)
	return cmd
}

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read and verify the hash-chained audit log"}
	var viaAPI bool
	var anchorHex string
	verify := &cobra.Command{
		Use:   "verify [--api]",
		Short: "Recompute the audit chain and name the first row that does not match (exit 1)",
		Long: `Recomputes the hash chain of the audit log. By default it reads the database
directly (BREACH_DATABASE_URL), so an auditor need not trust the server; with
--api it asks the server (BREACH_URL, BREACH_TOKEN of an auditor).

It prints the chain's head hash. The chain alone cannot show rows removed at its
end: keep the head hash somewhere outside the database and later pass it with
--anchor, which also requires that row to be in the chain.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var v store.AuditVerification
			if viaAPI {
				c, err := apiClient()
				if err != nil {
					return err
				}
				path := "/api/v1/audit/verify"
				if anchorHex != "" {
					path += "?anchor=" + url.QueryEscape(anchorHex)
				}
				if err := c.Do(cmd.Context(), http.MethodGet, path, nil, &v); err != nil {
					return err
				}
			} else {
				cfg, err := loadConfig()
				if err != nil {
					return err
				}
				if err := cfg.Require("BREACH_DATABASE_URL"); err != nil {
					return &usageError{err.Error() + " (or use --api)"}
				}
				st, err := store.Open(cmd.Context(), cfg.DatabaseURL)
				if err != nil {
					return err
				}
				defer st.Close()
				anchor, err := store.ParseAuditHash("--anchor", anchorHex)
				if err != nil {
					return err
				}
				if v, err = st.VerifyAuditAnchor(cmd.Context(), anchor); err != nil {
					return err
				}
			}
			return reportVerification(cmd.OutOrStdout(), v)
		},
	}
	verify.Flags().BoolVar(&viaAPI, "api", false, "ask the server instead of reading the database")
	verify.Flags().StringVar(&anchorHex, "anchor", "", "a head hash printed by an earlier verify: that row must still be in the chain")
	var incident string
	log := &cobra.Command{
		Use: "log [--incident ID]", Short: "Print audit rows (through the API)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incident != "" {
				return call(cmd, http.MethodGet, incidentPath(incident, "audit"), nil)
			}
			return call(cmd, http.MethodGet, "/api/v1/audit", nil)
		},
	}
	log.Flags().StringVar(&incident, "incident", "", "only this incident's rows")
	cmd.AddCommand(verify, log)
	return cmd
}

// errChainBroken makes `audit verify` exit 1 after it printed its finding.
type chainBroken struct{ id int64 }

func (e chainBroken) Error() string { return fmt.Sprintf("audit chain broken at row %d", e.id) }

func reportVerification(w io.Writer, v store.AuditVerification) error {
	if v.OK {
		fmt.Fprintf(w, "audit chain verified: %d rows, no row altered, removed or inserted\n", v.Rows)
		if v.HeadID != 0 {
			fmt.Fprintf(w, "head: row %d, hash %s (keep it outside the database; pass it later with --anchor)\n", v.HeadID, v.HeadHash)
		}
		return nil
	}
	fmt.Fprintf(w, "audit chain BROKEN at row %d: %s (%d rows read)\n", v.FirstBadID, v.Reason, v.Rows)
	return chainBroken{v.FirstBadID}
}

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage accounts and API tokens (admin token)"}
	var a app.NewAccount
	var role string
	create := &cobra.Command{
		Use:   "create --username NAME --role dpo|approver|auditor|admin",
		Short: "Create an account; the password is read from standard input",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
			if err != nil {
				return err
			}
			a.Role = breach.Role(role)
			a.Password = strings.TrimRight(string(pw), "\r\n")
			return call(cmd, http.MethodPost, "/api/v1/users", a)
		},
	}
	create.Flags().StringVar(&a.Username, "username", "", "login name")
	create.Flags().StringVar(&a.DisplayName, "display-name", "", "name shown in the audit log and pages")
	create.Flags().StringVar(&role, "role", "", "dpo, approver, auditor or admin")
	list := &cobra.Command{Use: "list", Short: "List accounts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return call(cmd, http.MethodGet, "/api/v1/users", nil) }}
	var label string
	token := &cobra.Command{
		Use: "token USER_ID [--label TEXT]", Short: "Issue an API token (shown once)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			body, _ := json.Marshal(map[string]string{"label": label})
			return call(cmd, http.MethodPost, "/api/v1/users/"+a[0]+"/tokens", json.RawMessage(body))
		},
	}
	token.Flags().StringVar(&label, "label", "cli", "what the token is for")
	cmd.AddCommand(create, list, token)
	return cmd
}
