package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// VersionTable records the schema version applied by tern.
const VersionTable = "public.schema_version"

// migrateLockKey serialises whole migration runs; tern takes its own advisory
// lock around each step as well.
const migrateLockKey = 2

// Migrations is the embedded migration folder (numbered .sql files).
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}

// Migrate applies the pending migrations to the database at url. Several
// processes may migrate at once: they wait for each other on an advisory lock.
func Migrate(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("store: migrate: connect: %w", redactURLError(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return MigrateConn(ctx, conn)
}

// MigrateConn applies the pending migrations through conn.
func MigrateConn(ctx context.Context, conn *pgx.Conn) (err error) {
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, lockClassBreach, migrateLockKey); err != nil {
		return fmt.Errorf("store: migrate: lock: %w", err)
	}
	defer func() {
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockClassBreach, migrateLockKey); uerr != nil && err == nil {
			err = fmt.Errorf("store: migrate: unlock: %w", uerr)
		}
	}()
	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if err := m.LoadMigrations(Migrations()); err != nil {
		return fmt.Errorf("store: migrate: load: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// Migrate applies the pending migrations through a pooled connection.
func (s *Store) Migrate(ctx context.Context) error {
	c, err := s.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer c.Release()
	return MigrateConn(ctx, c.Conn())
}

// SchemaVersion is the number of the last migration applied (0: none).
func (s *Store) SchemaVersion(ctx context.Context) (int32, error) {
	var v int32
	err := s.Pool.QueryRow(ctx, `SELECT version FROM `+VersionTable).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// LatestVersion is the number of the last embedded migration.
func LatestVersion() int32 {
	names, err := migrate.FindMigrations(Migrations())
	if err != nil {
		panic(err)
	}
	return int32(len(names))
}
