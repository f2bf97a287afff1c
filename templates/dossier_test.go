package templates

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var cases = []struct {
	name string
	in   func() activities.DossierInput
}{
	{"dossier_initial_fr", initialFR},
	{"dossier_initial_en", initialEN},
	{"dossier_complementary_fr", complementaryFR},
	{"dossier_nis2_early_warning_fr", earlyWarningFR},
}

func render(t *testing.T, in activities.DossierInput) []byte {
	t.Helper()
	out, err := Dossiers{}.RenderDossier(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGolden compares each dossier, HTML and JSON, with its golden file;
// `go test ./templates -update` rewrites them.
func TestGolden(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			htmlOut := render(t, c.in())
			jsonOut, err := DossierJSON(c.in())
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", c.name+".golden.html"), htmlOut)
			golden(t, filepath.Join("testdata", c.name+".golden.json"), jsonOut)
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./templates -update` to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering (run `go test ./templates -update` if the change is intended):\n%s",
			path, firstDiff(string(want), string(got)))
	}
}

// firstDiff shows where got departs from want: templ writes long lines, so
// the place is given as a line and a column with some context around it.
func firstDiff(want, got string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	line := 1 + strings.Count(want[:i], "\n")
	from := max(0, i-80)
	return "line " + strconv.Itoa(line) + ", byte " + strconv.Itoa(i) + ":\n- …" + clip(want[from:]) + "\n+ …" + clip(got[from:])
}

func clip(s string) string {
	if len(s) > 240 {
		return s[:240] + "…"
	}
	return s
}

func TestDeterministic(t *testing.T) {
	for _, c := range cases {
		a, b := render(t, c.in()), render(t, c.in())
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renderings differ", c.name)
		}
		// The same instants in another zone render the same bytes: the
		// dossier shows Paris time whatever the input's location.
		in := c.in()
		tokyo := time.FixedZone("JST", 9*3600)
		in.Incident.DetectedAt = in.Incident.DetectedAt.In(tokyo)
		in.Incident.AwareAt = in.Incident.AwareAt.In(tokyo)
		if d := render(t, in); !bytes.Equal(a, d) {
			t.Errorf("%s: the zone of the input changes the rendering", c.name)
		}
	}
}

// fields collects the text of every element carrying data-field, by name.
func fields(t *testing.T, doc []byte) (map[string][]string, *html.Node) {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "data-field" {
					out[a.Val] = append(out[a.Val], textOf(n))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return out, root
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// TestFrenchDossierHoldsEveryRequiredElement checks Art. 33(3)(a) to (d) and
// the CNIL's own items in the French initial notification.
func TestFrenchDossierHoldsEveryRequiredElement(t *testing.T) {
	in := initialFR()
	f, root := fields(t, render(t, in))
	nbsp := "\u00a0"
	want := map[string][]string{
		// Art. 33(3)(a): nature, categories and approximate numbers.
		"nature":             {"Violation de confidentialité d'origine malveillante"},
		"title":              {in.Incident.Title},
		"breach-types":       {"Perte de confidentialité"},
		"data-categories":    {"État civil, identité", "Coordonnées", "Vie professionnelle", "Données de santé", "Données d'authentification"},
		"subject-categories": {"Demandeurs d'emploi"},
		"subjects":           {"4" + nbsp + "800" + nbsp + "000"},
		"records":            {"5" + nbsp + "150" + nbsp + "000"},
		// Art. 33(3)(b): the DPO.
		"dpo-name":  {"Julien Marchal"},
		"dpo-email": {"dpo@emploi-valmont.example"},
		"dpo-phone": {"+33 1 23 45 67 89"},
		// Art. 33(3)(c) and (d).
		"consequences":      {"Hameçonnage ciblé"},
		"measures-taken":    {"Compte partenaire désactivé"},
		"measures-proposed": {"cybermalveillance.gouv.fr"},
		// CNIL items.
		"organisation":         {"Agence publique pour l'emploi de Valmont (fictive)"},
		"siren":                {"123" + nbsp + "456" + nbsp + "782"},
		"legal-representative": {"Claire Fontaine"},
		"contact-is-dpo":       {"délégué à la protection des données"},
		"filing-kind":          {"Notification initiale"},
		"authority":            {"CNIL"},
		"occurred-at":          {"03/11/2026 à 23:15 (heure de Paris)"}, // 22:15 UTC, winter time
		"detected-at":          {"21/11/2026 à 17:40 (heure de Paris)"},
		"aware-at":             {"22/11/2026 à 09:30 (heure de Paris)"},
		"deadline":             {"25/11/2026 à 09:30 (heure de Paris)"},
		"aware-at-reason":      {"L'analyse des journaux"},
		"narrative":            {"03/11 : premières requêtes anormales."},
		"discovery":            {"centre opérationnel de sécurité"},
		"cause":                {"Acte malveillant externe"},
		"ongoing":              {"Non, la violation a pris fin."},
		"draft-version":        {"2"},
		"no-filings":           {"Aucune notification déposée"},
		// The risk assessment: proposal and decision, ENISA score and band, reasons.
		"proposed-risk":      {"Risque élevé"},
		"enisa-score":        {"SE = DPC × EI + CB = 4 × 1 + 1 = 5"},
		"enisa-band":         {"très élevé"},
		"proposed-notify-sa": {"Oui"},
		"decided-risk":       {"Risque élevé"},
		"notify-subjects":    {"Oui"},
		"decision-reason":    {"Proposition confirmée"},
		"decided-at":         {"22/11/2026 à 11:15 (heure de Paris)"},
		"reasons":            {"SE = DPC x EI + CB = 4 x 1 + 1 = 5: band very_high", "credentials take the category"},
	}
	for field, parts := range want {
		got := strings.Join(f[field], "\n")
		if got == "" {
			t.Errorf("no element data-field=%q", field)
			continue
		}
		for _, part := range parts {
			if !strings.Contains(got, part) {
				t.Errorf("data-field=%q is %q; want it to contain %q", field, got, part)
			}
		}
	}
	// The document's language and sections.
	if lang := attr(find(root, "html"), "lang"); lang != "fr" {
		t.Errorf(`<html lang=%q>, want "fr"`, lang)
	}
	for _, id := range []string{"filing", "organisation", "dpo", "contact", "timeline", "deadlines", "nature", "scope", "consequences", "measures", "risk", "filings"} {
		if findID(root, id) == nil {
			t.Errorf("no element with id %q", id)
		}
	}
	// No delay section when there is no delay.
	if findID(root, "delay") != nil {
		t.Error("a delay section without reasons for delay")
	}
}

func TestEnglishDossier(t *testing.T) {
	f, root := fields(t, render(t, initialEN()))
	for field, part := range map[string]string{
		"filing-kind":     "Initial notification",
		"subjects":        "4,800,000",
		"aware-at":        "22 November 2026 at 09:30 (Paris time)",
		"deadline":        "25 November 2026 at 09:30 (Paris time)",
		"data-categories": "Health data",
		"breach-types":    "Loss of confidentiality",
		"enisa-band":      "very high",
		"consequences":    "Targeted phishing",
		"contact-is-dpo":  "The data protection officer.",
		"cause":           "Malicious act from outside",
	} {
		if got := strings.Join(f[field], "\n"); !strings.Contains(got, part) {
			t.Errorf("data-field=%q is %q; want %q", field, got, part)
		}
	}
	if lang := attr(find(root, "html"), "lang"); lang != "en" {
		t.Errorf(`<html lang=%q>, want "en"`, lang)
	}
}

func TestComplementaryDossier(t *testing.T) {
	out := render(t, complementaryFR())
	f, root := fields(t, out)
	for field, part := range map[string]string{
		"filing-kind":   "Notification complémentaire n°\u00a01",
		"complements":   "Notification initiale déposée le 25/11/2026 à 14:30 (heure de Paris), référence CNIL-FICTIF-2026-000123",
		"notes":         "5,15 millions",
		"delay-reasons": "5 heures après l'échéance",
		"contact-name":  "Nadia Berrada",
		"contact-email": "securite@emploi-valmont.example",
	} {
		if got := strings.Join(f[field], "\n"); !strings.Contains(got, part) {
			t.Errorf("data-field=%q is %q; want %q", field, got, part)
		}
	}
	if findID(root, "delay") == nil {
		t.Error("no section for the reasons of the delay (Art. 33(1))")
	}
	refs := strings.Join(f["filing-reference"], " ")
	if refs != "ANSSI-FICTIF-0042 CNIL-FICTIF-2026-000123" {
		t.Errorf("earlier filings, oldest first: %q", refs)
	}
	if !strings.Contains(string(out), "Hors délai") {
		t.Error("the late initial filing is not marked late")
	}
	// The initial deadline is shown as filed.
	if row := findAttr(root, "data-stage", "initial"); row == nil || !strings.Contains(textOf(row), "Déposée") {
		t.Error("the initial deadline is not shown as filed")
	}
}

func TestWithdrawalDossier(t *testing.T) {
	in := complementaryFR()
	in.Key = breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageWithdrawal}
	f, _ := fields(t, render(t, in))
	for field, part := range map[string]string{
		"filing-kind": "Retrait de la notification",
		"complements": "Notification initiale déposée le 25/11/2026 à 14:30 (heure de Paris)",
	} {
		if got := strings.Join(f[field], "\n"); !strings.Contains(got, part) {
			t.Errorf("data-field=%q is %q; want %q", field, got, part)
		}
	}
}

func TestNIS2Dossier(t *testing.T) {
	out := render(t, earlyWarningFR())
	f, root := fields(t, out)
	for field, part := range map[string]string{
		"filing-kind":  "Alerte précoce (24 heures)",
		"authority":    "ANSSI (CSIRT)",
		"not-assessed": "pas encore été évalué",
		"ongoing":      "toujours en cours",
		"occurred-at":  "Non renseigné",
		"records":      "Non connu à ce stade",
	} {
		if got := strings.Join(f[field], "\n"); !strings.Contains(got, part) {
			t.Errorf("data-field=%q is %q; want %q", field, got, part)
		}
	}
	// NIS2's three deadlines: 24 h, 72 h, a month after the 72 h notification.
	deadlines := f["deadline"]
	want := []string{"23/11/2026 à 09:30", "25/11/2026 à 09:30", "25/12/2026 à 09:30"}
	if len(deadlines) != len(want) {
		t.Fatalf("deadlines = %q, want %q", deadlines, want)
	}
	for i := range want {
		if !strings.HasPrefix(deadlines[i], want[i]) {
			t.Errorf("deadline %d = %q, want %q", i, deadlines[i], want[i])
		}
	}
	if row := findAttr(root, "data-stage", "early_warning"); row == nil || attr(row, "class") != "current" {
		t.Error("the early warning is not marked as this dossier's stage")
	}
}

// TestStandalone checks that the dossier is a complete document with no
// script and no external resource.
func TestStandalone(t *testing.T) {
	for _, c := range cases {
		out := render(t, c.in())
		if !bytes.HasPrefix(out, []byte("<!doctype html>")) && !bytes.HasPrefix(out, []byte("<!DOCTYPE html>")) {
			t.Errorf("%s: does not start with a doctype", c.name)
		}
		_, root := fields(t, out)
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				switch n.Data {
				case "script", "link", "img", "iframe", "object", "embed", "base":
					t.Errorf("%s: <%s> element", c.name, n.Data)
				}
				for _, a := range n.Attr {
					if a.Key == "src" || a.Key == "href" || a.Key == "srcset" || strings.HasPrefix(a.Key, "on") {
						t.Errorf("%s: <%s %s=%q>", c.name, n.Data, a.Key, a.Val)
					}
				}
			}
			if n.Type == html.TextNode && n.Parent != nil && n.Parent.Data == "style" &&
				(strings.Contains(n.Data, "url(") || strings.Contains(n.Data, "@import")) {
				t.Errorf("%s: the style loads a resource", c.name)
			}
			for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
				walk(ch)
			}
		}
		walk(root)
		for _, el := range []string{"html", "head", "title", "body", "main", "style"} {
			if find(root, el) == nil {
				t.Errorf("%s: no <%s>", c.name, el)
			}
		}
		if attr(findAttr(root, "charset", "utf-8"), "charset") == "" {
			t.Errorf("%s: no <meta charset=utf-8>", c.name)
		}
	}
}

func TestEscapesEverything(t *testing.T) {
	in := initialFR()
	in.Incident.Title = `<script>alert("x")</script>`
	in.Fields.Nature = `<img src=x onerror=alert(1)> & "quotes"`
	in.Incident.Reference = `"><b>ref</b>`
	out := render(t, in)
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>ref</b>"} {
		if strings.Contains(string(out), bad) {
			t.Errorf("unescaped %q in the dossier", bad)
		}
	}
	f, _ := fields(t, out)
	if got := f["title"][0]; got != in.Incident.Title {
		t.Errorf("title shown as %q, want the text %q", got, in.Incident.Title)
	}
}

// TestJSONIsWhatTheHTMLShows checks that every label and text of the JSON
// record appears in the HTML, and that the JSON carries the codes and the
// UTC times behind them.
func TestJSONIsWhatTheHTMLShows(t *testing.T) {
	for _, c := range cases {
		in := c.in()
		out, err := DossierJSON(in)
		if err != nil {
			t.Fatal(err)
		}
		var rec any
		if err := json.Unmarshal(out, &rec); err != nil {
			t.Fatal(err)
		}
		root, err := html.Parse(bytes.NewReader(render(t, in)))
		if err != nil {
			t.Fatal(err)
		}
		text := textOf(root)
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					switch k {
					case "code", "at", "siren", "language", "value":
						continue // codes and machine values: labels and displays stand for them
					}
					walk(path+"."+k, x)
				}
			case []any:
				for _, x := range v {
					walk(path+"[]", x)
				}
			case string:
				if v != "" && !strings.Contains(text, v) {
					t.Errorf("%s: JSON %s = %q is not in the HTML", c.name, path, clip(v))
				}
			}
		}
		walk("", rec)

		var r DossierRecord
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatal(err)
		}
		if !r.Timeline.AwareAt.At.Equal(in.Incident.AwareAt) || r.Timeline.AwareAt.At.Location() != time.UTC {
			t.Errorf("%s: aware_at.at = %v, want %v in UTC", c.name, r.Timeline.AwareAt.At, in.Incident.AwareAt)
		}
		if r.Organisation.SIREN != in.Incident.Controller.SIREN || r.Filing.Stage.Code != string(in.Key.Stage) {
			t.Errorf("%s: codes missing from the JSON record", c.name)
		}
	}
}

func TestRejectsUnknownLanguageAndRegime(t *testing.T) {
	for _, tt := range []struct {
		mod   func(*activities.DossierInput)
		field string
	}{
		{func(in *activities.DossierInput) { in.Fields.Language = "de" }, "language"},
		{func(in *activities.DossierInput) { in.Fields.Language = "" }, "language"},
		{func(in *activities.DossierInput) { in.Key.Regime = "hipaa" }, "key.regime"},
		{func(in *activities.DossierInput) { in.Key.Stage = breach.StageEarlyWarning }, "key.stage"},
	} {
		in := initialFR()
		tt.mod(&in)
		_, err := Dossiers{}.RenderDossier(context.Background(), in)
		var e *breach.Error
		if !errors.As(err, &e) || e.Code != breach.ErrInvalid || e.Field != tt.field {
			t.Errorf("got %v, want invalid %s", err, tt.field)
		}
		if _, err := DossierJSON(in); err == nil {
			t.Errorf("DossierJSON accepted a bad %s", tt.field)
		}
	}
}

func find(n *html.Node, tag string) *html.Node {
	if n.Type == html.ElementNode && n.Data == tag {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if m := find(c, tag); m != nil {
			return m
		}
	}
	return nil
}

func findAttr(n *html.Node, key, val string) *html.Node {
	if n.Type == html.ElementNode && attr(n, key) == val {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if m := findAttr(c, key, val); m != nil {
			return m
		}
	}
	return nil
}

func findID(n *html.Node, id string) *html.Node { return findAttr(n, "id", id) }

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
