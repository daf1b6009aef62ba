import { openSqlite, type StatesourceSqlite } from '@statesource/sqlite'
import type { SqliteSynchronous } from './sqlite-settings.ts'

/** statesource's SQLite storage for one benchmark process, plus a count query for checking runs. */
export interface BenchStorage {
  readonly sqlite: StatesourceSqlite
  /** Stored events whose persistence id does not contain `warm-` (the warm-up streams). */
  countEvents(): number
  close(): Promise<void>
}

/**
 * Opens statesource's storage for one benchmark: `@statesource/sqlite`'s journal, snapshot store and read
 * journal on one SQLite file, in WAL mode with the given `synchronous`.
 *
 * @example
 * ```ts
 * const storage = await openBenchStorage('/tmp/statesource.db', 'FULL')
 * await storage.close()
 * ```
 */
export async function openBenchStorage(file: string, synchronous: SqliteSynchronous): Promise<BenchStorage> {
  const sqlite = await openSqlite(file, { synchronous })
  const count = sqlite.db!.prepare(
    `SELECT count(*) AS n FROM statesource_journal WHERE persistence_id NOT LIKE '%warm-%'`,
  )
  return {
    sqlite,
    countEvents: () => (count.get() as { n: number }).n,
    close: () => sqlite.close(),
  }
}
