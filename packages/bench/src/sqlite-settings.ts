import type Database from 'better-sqlite3'

/** `PRAGMA synchronous` of every SQLite file in the benchmarks (WAL mode everywhere). */
export type SqliteSynchronous = 'FULL' | 'NORMAL'

/**
 * The durability all command benchmarks use: WAL with `synchronous=FULL`, so every acknowledged command
 * was synced to disk (it survives power loss), on both sides of every comparison.
 */
export const SYNCHRONOUS: SqliteSynchronous = 'FULL'

/**
 * Opens a better-sqlite3 file the way the raw baselines do: WAL, the given `synchronous`, defaults otherwise.
 *
 * @example
 * ```ts
 * const db = openRawSqlite(Database, '/tmp/raw.db', 'FULL')
 * ```
 */
export function openRawSqlite(
  open: new (file: string) => Database.Database,
  file: string,
  synchronous: SqliteSynchronous,
): Database.Database {
  const db = new open(file)
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${synchronous}`)
  return db
}

/**
 * The raw baseline's table: the columns of statesource's journal table with the same
 * `UNIQUE (persistence_id, seq_nr)` index and an `AUTOINCREMENT` global ordering, but no tag or stream tables.
 */
export const RAW_SCHEMA = `CREATE TABLE IF NOT EXISTS raw_journal (
  ordering       INTEGER PRIMARY KEY AUTOINCREMENT,
  persistence_id TEXT    NOT NULL,
  seq_nr         INTEGER NOT NULL,
  event_type     TEXT    NOT NULL,
  event_version  INTEGER NOT NULL,
  payload        TEXT    NOT NULL,
  metadata       TEXT    NOT NULL,
  tags           TEXT    NOT NULL,
  written_at     INTEGER NOT NULL,
  writer_id      TEXT    NOT NULL,
  UNIQUE (persistence_id, seq_nr)
)`
