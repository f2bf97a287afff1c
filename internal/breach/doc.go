// Package breach holds the domain of the breach-notification engine: incidents,
// the facts a risk assessment weighs, the regulatory regimes and their deadlines,
// roles, and the domain errors. It does no I/O, so workflows and handlers alike
// can use it.
package breach
