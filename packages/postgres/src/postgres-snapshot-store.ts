import {
  isStatesourceError,
  type SnapshotStore,
  StatesourceError,
  type StoredSnapshot,
  toJson,
} from '@statesource/core'
import { messageOf, type Query } from './journal-sql.ts'
import { fromDbText, toDbText } from './pg-text.ts'
import { qualified, TABLES } from './postgres-schema.ts'

interface SnapshotRow {
  persistence_id: string
  seq_nr: string
  state: unknown
  machine_version: string
  written_at: string
}

/**
 * Aggregate snapshots in `statesource_snapshot`, on the same database as the journal.
 * Get it from {@link openPostgres} as `pg.snapshotStore`.
 *
 * @example
 * ```ts
 * const pg = await openPostgres('postgres://localhost/app')
 * await pg.snapshotStore.save(
 *   { persistenceId: 'account|1', seqNr: 100, state: { value: 'open' }, machineVersion: '1', timestamp: Date.now() },
 *   { keepLast: 2 },
 * )
 * const latest = await pg.snapshotStore.load('account|1')
 * ```
 *
 * @remarks
 * Errors surface: a state that is not JSON rejects with `SERIALIZATION_FAILED`, a database failure with
 * `SNAPSHOT_FAILURE`. `keepLast` counts snapshots, not events; saving the same `seqNr` again replaces it.
 */
export class PostgresSnapshotStore implements SnapshotStore {
  readonly #query: Query
  readonly #sql: ReturnType<typeof snapshotSql>

  /** @internal Use {@link openPostgres}. */
  constructor(query: Query, schema: string) {
    this.#query = query
    this.#sql = snapshotSql(schema)
  }

  async save(snapshot: StoredSnapshot, options: { keepLast?: number } = {}): Promise<void> {
    const { persistenceId, seqNr } = snapshot
    const state = toJson(snapshot.state, `Snapshot of "${persistenceId}"`)
    if (!Number.isSafeInteger(seqNr) || seqNr < 0) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `Snapshot of "${persistenceId}" has seqNr ${seqNr}; it must be an integer >= 0.`,
      )
    }
    const keep = options.keepLast === undefined ? null : Math.max(1, Math.floor(options.keepLast))
    const id = toDbText(persistenceId)
    // Two statements, not one transaction: each prune sees every snapshot committed before it started,
    // so after concurrent saves the last prune leaves at most keepLast (a snapshot is a cache anyway).
    await this.#call(async () => {
      await this.#query(this.#sql.save, [
        id,
        seqNr,
        state,
        String(snapshot.machineVersion),
        snapshot.timestamp,
      ])
      if (keep !== null) await this.#query(this.#sql.prune, [id, keep - 1])
    }, `Saving the snapshot of "${persistenceId}"`)
  }

  async load(persistenceId: string): Promise<StoredSnapshot | undefined> {
    const rows = await this.#call(
      () => this.#query<SnapshotRow>(this.#sql.load, [toDbText(persistenceId)]),
      `Loading the snapshot of "${persistenceId}"`,
    )
    const row = rows[0]
    if (!row) return undefined
    return {
      persistenceId: fromDbText(row.persistence_id),
      seqNr: Number(row.seq_nr),
      state: row.state,
      machineVersion: row.machine_version,
      timestamp: Number(row.written_at),
    }
  }

  async deleteTo(persistenceId: string, toSeqNr: number): Promise<void> {
    await this.#call(
      () =>
        this.#query(this.#sql.deleteTo, [
          toDbText(persistenceId),
          Math.min(toSeqNr, Number.MAX_SAFE_INTEGER),
        ]),
      `Deleting snapshots of "${persistenceId}"`,
    )
  }

  async count(persistenceId: string): Promise<number> {
    const rows = await this.#call(
      () => this.#query<{ n: string }>(this.#sql.count, [toDbText(persistenceId)]),
      `Counting snapshots of "${persistenceId}"`,
    )
    return Number(rows[0]?.n ?? 0)
  }

  async #call<T>(operation: () => Promise<T>, what: string): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      if (isStatesourceError(error)) throw error
      throw new StatesourceError(
        'SNAPSHOT_FAILURE',
        `${what} failed: ${messageOf(error)}. Snapshots are a cache: the aggregate can still recover from the journal.`,
        { cause: error },
      )
    }
  }
}

function snapshotSql(schema: string) {
  const S = qualified(schema, TABLES.snapshot)
  return {
    save: `INSERT INTO ${S} (persistence_id, seq_nr, state, machine_version, written_at)
      VALUES ($1, $2, $3::json, $4, $5)
      ON CONFLICT (persistence_id, seq_nr) DO UPDATE SET state = excluded.state,
        machine_version = excluded.machine_version, written_at = excluded.written_at`,
    // Keeps the newest $2 + 1: everything below the (keep)-th newest goes (NULL, so nothing, when fewer).
    prune: `DELETE FROM ${S} WHERE persistence_id = $1 AND seq_nr < (
      SELECT seq_nr FROM ${S} WHERE persistence_id = $1 ORDER BY seq_nr DESC LIMIT 1 OFFSET $2)`,
    load: `SELECT persistence_id, seq_nr, state, machine_version, written_at FROM ${S}
      WHERE persistence_id = $1 ORDER BY seq_nr DESC LIMIT 1`,
    deleteTo: `DELETE FROM ${S} WHERE persistence_id = $1 AND seq_nr <= $2`,
    count: `SELECT count(*) AS n FROM ${S} WHERE persistence_id = $1`,
  }
}
