import {
  checkText,
  isStatesourceError,
  type SnapshotStore,
  StatesourceError,
  type StoredSnapshot,
  toJson,
} from '@statesource/core'
import { all, get, run, type SqlDriver, type SqlProgram } from './sql-driver.ts'
import { TABLES } from './sqlite-schema.ts'

const S = TABLES.snapshot

const SQL = {
  save: `INSERT INTO ${S} (persistence_id, seq_nr, state, machine_version, written_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (persistence_id, seq_nr) DO UPDATE SET state = excluded.state,
      machine_version = excluded.machine_version, written_at = excluded.written_at`,
  // Keeps the `keep` newest: everything below the keep-th newest seq_nr goes (NULL, so nothing, when fewer).
  prune: `DELETE FROM ${S} WHERE persistence_id = ? AND seq_nr < (
    SELECT seq_nr FROM ${S} WHERE persistence_id = ? ORDER BY seq_nr DESC LIMIT 1 OFFSET ?)`,
  load: `SELECT persistence_id, seq_nr, state, machine_version, written_at FROM ${S}
    WHERE persistence_id = ? ORDER BY seq_nr DESC LIMIT 1`,
  deleteTo: `DELETE FROM ${S} WHERE persistence_id = ? AND seq_nr <= ?`,
  count: `SELECT count(*) AS n FROM ${S} WHERE persistence_id = ?`,
} as const

interface SnapshotRow {
  persistence_id: string
  seq_nr: number
  state: string
  machine_version: string
  written_at: number
}

/**
 * Aggregate snapshots in `statesource_snapshot`, on the same database as the journal.
 * Get it from {@link openSqlite} or {@link fromKysely} as `sqlite.snapshotStore`.
 *
 * @example
 * ```ts
 * const sqlite = await openSqlite('app.db')
 * await sqlite.snapshotStore.save(
 *   { persistenceId: 'account|1', seqNr: 100, state: { value: 'open' }, machineVersion: '1', timestamp: Date.now() },
 *   { keepLast: 2 },
 * )
 * const latest = await sqlite.snapshotStore.load('account|1')
 * ```
 *
 * @remarks
 * Errors surface: a state that is not JSON rejects with `SERIALIZATION_FAILED`, a database failure with
 * `SNAPSHOT_FAILURE`. `keepLast` counts snapshots, not events; saving the same `seqNr` again replaces it.
 */
export class SqliteSnapshotStore implements SnapshotStore {
  readonly #driver: SqlDriver

  /** @internal Use {@link openSqlite} or {@link fromKysely}. */
  constructor(driver: SqlDriver) {
    this.#driver = driver
  }

  async save(snapshot: StoredSnapshot, options: { keepLast?: number } = {}): Promise<void> {
    const { persistenceId, seqNr } = snapshot
    checkText(persistenceId, 'persistenceId')
    const state = toJson(snapshot.state, `Snapshot of "${persistenceId}"`)
    if (!Number.isSafeInteger(seqNr) || seqNr < 0) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `Snapshot of "${persistenceId}" has seqNr ${seqNr}; it must be an integer >= 0.`,
      )
    }
    const keep = Math.max(1, options.keepLast ?? Number.POSITIVE_INFINITY)
    const program = function* (): SqlProgram<void> {
      yield* run(SQL.save, [persistenceId, seqNr, state, String(snapshot.machineVersion), snapshot.timestamp])
      if (Number.isFinite(keep)) yield* run(SQL.prune, [persistenceId, persistenceId, keep - 1])
    }
    await this.#call(() => this.#driver.write(program()), `Saving the snapshot of "${persistenceId}"`)
  }

  async load(persistenceId: string): Promise<StoredSnapshot | undefined> {
    checkText(persistenceId, 'persistenceId')
    const row = await this.#call(
      () => this.#driver.read(get<SnapshotRow>(SQL.load, [persistenceId])),
      `Loading the snapshot of "${persistenceId}"`,
    )
    if (!row) return undefined
    return {
      persistenceId: row.persistence_id,
      seqNr: row.seq_nr,
      state: JSON.parse(row.state) as unknown,
      machineVersion: row.machine_version,
      timestamp: row.written_at,
    }
  }

  async deleteTo(persistenceId: string, toSeqNr: number): Promise<void> {
    checkText(persistenceId, 'persistenceId')
    await this.#call(
      () => this.#driver.write(run(SQL.deleteTo, [persistenceId, toSeqNr])),
      `Deleting snapshots of "${persistenceId}"`,
    )
  }

  async count(persistenceId: string): Promise<number> {
    checkText(persistenceId, 'persistenceId')
    const rows = await this.#call(
      () => this.#driver.read(all<{ n: number }>(SQL.count, [persistenceId])),
      `Counting snapshots of "${persistenceId}"`,
    )
    return rows[0]?.n ?? 0
  }

  async #call<T>(operation: () => T | Promise<T>, what: string): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      if (isStatesourceError(error)) throw error
      throw new StatesourceError(
        'SNAPSHOT_FAILURE',
        `${what} failed: ${error instanceof Error ? error.message : String(error)}. Snapshots are a cache: the aggregate can still recover from the journal.`,
        { cause: error },
      )
    }
  }
}
