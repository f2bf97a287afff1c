package web

import (
	"strings"
	"unicode"

	webui "github.com/breach-engine/breach/templates/web"
)

// A word-level diff of two texts, for the side-by-side view of two draft
// versions: the texts are cut into words, runs of spaces and single
// punctuation marks, the common prefix and suffix are set aside, and the
// middle is compared by longest common subsequence. Texts whose middles are
// too long to compare word by word (the product of their lengths above
// maxCells) are compared line by line instead, and beyond that shown as
// replaced as a whole: a draft is a few pages, so this is for pathological
// input only.

const maxCells = 4_000_000

// diffWords returns the chunks of a (equal and deleted) and of b (equal and inserted).
func diffWords(a, b string) (left, right []webui.Chunk) {
	return diffTokens(tokenize(a), tokenize(b), true)
}

func diffTokens(x, y []string, fine bool) (left, right []webui.Chunk) {
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	add := func(chunks *[]webui.Chunk, op int, toks []string) {
		if len(toks) == 0 {
			return
		}
		s := strings.Join(toks, "")
		if n := len(*chunks); n > 0 && (*chunks)[n-1].Op == op {
			(*chunks)[n-1].Text += s
			return
		}
		*chunks = append(*chunks, webui.Chunk{Op: op, Text: s})
	}
	add(&left, 0, x[:pre])
	add(&right, 0, y[:pre])
	mx, my := x[pre:len(x)-suf], y[pre:len(y)-suf]
	switch {
	case len(mx) == 0 || len(my) == 0:
		add(&left, -1, mx)
		add(&right, 1, my)
	case len(mx)*len(my) <= maxCells:
		for _, op := range lcs(mx, my) {
			switch op.kind {
			case 0:
				add(&left, 0, mx[op.i:op.i+1])
				add(&right, 0, my[op.j:op.j+1])
			case -1:
				add(&left, -1, mx[op.i:op.i+1])
			case 1:
				add(&right, 1, my[op.j:op.j+1])
			}
		}
	case fine:
		// Too long word by word: compare lines, then words within nothing more.
		l, r := diffTokens(lines(strings.Join(mx, "")), lines(strings.Join(my, "")), false)
		for _, c := range l {
			add(&left, c.Op, []string{c.Text})
		}
		for _, c := range r {
			add(&right, c.Op, []string{c.Text})
		}
	default:
		add(&left, -1, mx)
		add(&right, 1, my)
	}
	add(&left, 0, x[len(x)-suf:])
	add(&right, 0, y[len(y)-suf:])
	return left, right
}

type editOp struct {
	kind int // 0 keep, -1 delete x[i], 1 insert y[j]
	i, j int
}

// lcs is the edit script of x into y by longest common subsequence.
func lcs(x, y []string) []editOp {
	n, m := len(x), len(y)
	// table[i][j] = LCS length of x[i:], y[j:]; one flat slice.
	w := m + 1
	table := make([]int32, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				table[i*w+j] = table[(i+1)*w+j+1] + 1
			} else if a, b := table[(i+1)*w+j], table[i*w+j+1]; a >= b {
				table[i*w+j] = a
			} else {
				table[i*w+j] = b
			}
		}
	}
	var ops []editOp
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case x[i] == y[j]:
			ops = append(ops, editOp{0, i, j})
			i, j = i+1, j+1
		case table[(i+1)*w+j] >= table[i*w+j+1]:
			ops = append(ops, editOp{-1, i, j})
			i++
		default:
			ops = append(ops, editOp{1, i, j})
			j++
		}
	}
	for ; i < n; i++ {
		ops = append(ops, editOp{-1, i, j})
	}
	for ; j < m; j++ {
		ops = append(ops, editOp{1, i, j})
	}
	return ops
}

// tokenize cuts text into words, runs of white space, and other characters one by one.
func tokenize(s string) []string {
	var out []string
	start := -1
	kind := 0 // 1 word, 2 space
	flush := func(end int) {
		if start >= 0 {
			out = append(out, s[start:end])
			start = -1
		}
	}
	for i, r := range s {
		k := 3
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '’' || r == '-':
			k = 1
		case unicode.IsSpace(r):
			k = 2
		}
		if k == 3 {
			flush(i)
			out = append(out, string(r))
			continue
		}
		if start >= 0 && k != kind {
			flush(i)
		}
		if start < 0 {
			start, kind = i, k
		}
	}
	flush(len(s))
	return out
}

// lines cuts text into lines, each with its line break.
func lines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// draftDiff compares the text fields of two versions.
func draftDiff(prev, cur func(string) string) []webui.FieldDiff {
	var out []webui.FieldDiff
	for _, name := range webui.DraftTextFields {
		a, b := prev(name), cur(name)
		if a == "" && b == "" {
			continue
		}
		d := webui.FieldDiff{Field: name, Changed: a != b}
		d.Left, d.Right = diffWords(a, b)
		out = append(out, d)
	}
	return out
}
