package main

import (
	"encoding/json"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/breach-engine/breach/internal/breach"
)

func newAssessCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "assess --json FILE|-",
		Short: "Assess the risk of a breach from a facts document (ENISA severity + EDPB factors) and print JSON",
		Long: `Reads a facts document (JSON) and prints the assessment:
  {"enisa":{"dpc":..,"ei":..,"cb":..,"score":..,"band":"low|medium|high|very_high"},
   "risk":"none|risk|high","notify_sa":bool,"notify_subjects":bool,
   "exemption":null|"art34_3_a"|"art34_3_b"|"art34_3_c","reasons":[...]}
Fields: breach_types, data_categories, subjects, ease_of_identification,
recipients, integrity_recoverable, availability_loss, malicious,
data_unintelligible, vulnerable_subjects, backup_available. An absent field is
unknown: the result says what was assumed. Bad input exits with status 2.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usagef("--json FILE|- is required")
			}
			var r io.Reader = cmd.InOrStdin()
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return usagef("read facts: %v", err)
				}
				defer f.Close()
				r = f
			}
			facts, err := breach.ParseFacts(r)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(breach.Assess(facts))
		},
	}
	cmd.Flags().StringVar(&file, "json", "", "facts document, or - for standard input")
	return cmd
}
