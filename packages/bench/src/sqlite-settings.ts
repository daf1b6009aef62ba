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
