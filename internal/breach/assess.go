package breach

// Assess applies the ENISA severity method and the EDPB factors to the facts.
func Assess(f Facts) Assessment { panic("unimplemented: being written") }
