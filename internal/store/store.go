// Package store keeps the engine's domain state in Postgres through pgx.
package store

import "github.com/jackc/pgx/v5/pgxpool"

// Store wraps the connection pool.
type Store struct {
	Pool *pgxpool.Pool
}
