package breach

import "time"

// DefaultRetentionAfterClose is how long the contact data of an incident's
// affected people is kept after the incident is closed, before the engine
// destroys it (BREACH_RETENTION_AFTER_CLOSE). GDPR Art. 5(1)(e), storage
// limitation: that list is a copy of the breached data, needed to tell the
// people (Art. 34) and to answer their questions and the authority's for a
// while after the closure, not longer. What documents the breach
// (Art. 33(5)) is kept: counts, ledger states, content hashes, the register.
const DefaultRetentionAfterClose = 90 * 24 * time.Hour
