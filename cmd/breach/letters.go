package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/workflows"
)

// newLetterCmd is `breach letter`: the letter to the people concerned (Art.
// 34), one per language, through the same draft -> approve (four-eyes) loop
// as the regulator dossier.
func newLetterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "letter", Short: "Draft, approve, list and preview the letters to the people concerned (Art. 34)"}

	var lang, file, comment string
	var base, version int
	langFlag := func(c *cobra.Command) {
		c.Flags().StringVar(&lang, "lang", "fr", "language of the letter: fr or en")
	}

	draft := &cobra.Command{
		Use:   "draft ID --lang fr|en --file FIELDS.json [--base-version V]",
		Short: "Write a letter, or a new version of it (fields: subject, what_happened, consequences, measures_taken, password_reset, ...)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			raw, err := readJSONFile(cmd, file)
			if err != nil {
				return err
			}
			var f breach.LetterFields
			if err := json.Unmarshal(raw, &f); err != nil {
				return usagef("%s: %v", file, err)
			}
			if f.Language == "" {
				f.Language = breach.Language(lang)
			}
			u := workflows.SaveLetterUpdate{Language: breach.Language(lang), BaseVersion: base, Fields: f}
			return call(cmd, http.MethodPost, incidentPath(a[0], "letters"), u)
		},
	}
	langFlag(draft)
	draft.Flags().StringVar(&file, "file", "", "letter fields, JSON, or - for standard input")
	draft.Flags().IntVar(&base, "base-version", 0, "the version this one replaces (0 for the first)")

	decide := func(approve bool) *cobra.Command {
		use, short := "approve", "Approve a letter version (four-eyes: not its author or last editor)"
		if !approve {
			use, short = "return", "Send a letter version back with a comment"
		}
		c := &cobra.Command{
			Use: use + " ID --lang fr|en --version V [--comment TEXT]", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, a []string) error {
				if version <= 0 {
					return breach.Invalid("--version", "is required")
				}
				u := workflows.DecideLetterUpdate{Language: breach.Language(lang), Version: version, Approve: approve, Comment: comment}
				return call(cmd, http.MethodPost, incidentPath(a[0], "letters", "decisions"), u)
			},
		}
		langFlag(c)
		c.Flags().IntVar(&version, "version", 0, "the letter version decided on")
		c.Flags().StringVar(&comment, "comment", "", "comment for the author")
		return c
	}

	list := &cobra.Command{Use: "list ID", Short: "List every version of the incident's letters", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return call(cmd, http.MethodGet, incidentPath(a[0], "letters"), nil)
		}}

	var person int64
	var format string
	preview := &cobra.Command{
		Use:   "preview ID --lang fr|en [--version V] [--person N] [--format html|text|json]",
		Short: "Render a letter for the preview person, or for one person of the incident (DPO and approvers)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			q := url.Values{}
			if version > 0 {
				q.Set("version", fmt.Sprint(version))
			}
			if person > 0 {
				q.Set("person", fmt.Sprint(person))
			}
			if format != "" {
				q.Set("format", format)
			}
			path := incidentPath(a[0], "letters", lang, "preview")
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			return call(cmd, http.MethodGet, path, nil)
		},
	}
	langFlag(preview)
	preview.Flags().IntVar(&version, "version", 0, "version to render (default: the current one)")
	preview.Flags().Int64Var(&person, "person", 0, "render for this person ID of the incident (default: the preview person)")
	preview.Flags().StringVar(&format, "format", "html", "html, text or json")

	cmd.AddCommand(draft, decide(true), decide(false), list, preview)
	return cmd
}
