package store

import (
	"math/rand/v2"
	"testing"
)

func TestPrefixSet(t *testing.T) {
	s := newPrefixSet()
	rng := rand.New(rand.NewPCG(1, 2))
	var in []uint64
	for i := 0; i < 300000; i++ {
		p := rng.Uint64()
		if i%1000 == 0 {
			p &= 0xFF // small values collide in the low bits
		}
		in = append(in, p)
		had := s.has(p)
		if s.add(p) == had {
			t.Fatalf("add %x: reported %v, had %v", p, !had, had)
		}
		if s.add(p) { // twice: still one
			t.Fatalf("%x added twice", p)
		}
	}
	if !s.add(0) || s.add(0) {
		t.Fatal("zero added twice, or not at all")
	}
	for _, p := range in {
		if !s.has(p) {
			t.Fatalf("%x lost", p)
		}
	}
	if !s.has(0) || s.n > len(in) {
		t.Fatalf("zero %v, n %d", s.has(0), s.n)
	}
	misses := 0
	for i := 0; i < 100000; i++ {
		if s.has(rng.Uint64()) {
			misses++
		}
	}
	if misses > 1 {
		t.Fatalf("%d false hits", misses)
	}
	if len(s.slots)*3 < s.n*4 {
		t.Fatalf("over full: %d in %d", s.n, len(s.slots))
	}
}
