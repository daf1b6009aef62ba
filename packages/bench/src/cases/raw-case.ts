import { randomUUID } from 'node:crypto'
import Database from 'better-sqlite3'
import { WARM_UP, type WorkloadSize, commandAt, decideCart, warmUpCommandAt } from '../cart-workload.ts'
import { RAW_SCHEMA, type SqliteSynchronous, openRawSqlite } from '../sqlite-settings.ts'

/** Rows per transaction of the raw baseline: the storage limit the issues compare end to end against. */
export const RAW_BATCH = 1000

/** Options of {@link runRawAppend}. */
export interface RawAppendOptions extends WorkloadSize {
  /** The SQLite file (created). */
  readonly file: string
  readonly synchronous: SqliteSynchronous
  /** Rows per transaction. Default {@link RAW_BATCH}. */
  readonly batch?: number
}

/** What the raw baseline reports. */
export interface RawAppendResult {
  readonly rows: number
  readonly batch: number
  readonly seconds: number
  readonly rowsPerSec: number
  readonly storedRows: number
}

/**
 * A journal row of event `i` of the workload: the row statesource stores for command `i`, down to the
 * metadata (the command's correlation id, UUID-shaped) and a writer id of the same length (a UUID).
 */
function rowAt(i: number, size: WorkloadSize, writerId: string, correlationId: string, warmUp = false) {
  const { cartId, command } = warmUp ? warmUpCommandAt(i) : commandAt(i, size)
  // Every command of the workload is accepted, so the event does not depend on the cart's state here.
  const decision = decideCart(command, cartId, 'Opened', { items: 1, total: 1 })
  if ('rejected' in decision)
    throw new Error(`The workload's command ${i} was rejected: ${decision.rejected}`)
  const { type, ...payload } = decision
  return {
    persistence_id: `shopping_cart|${cartId}`,
    seq_nr: Math.floor(i / (warmUp ? WARM_UP : size).streams) + 1,
    event_type: type,
    event_version: 1,
    payload: JSON.stringify(payload),
    metadata: JSON.stringify({ correlationId }),
    tags: '[]',
    written_at: Date.now(),
    writer_id: writerId,
  }
}

/**
 * The storage limit: the rows the cart workload produces, inserted with cached better-sqlite3 prepared
 * statements, `batch` rows per transaction, on the same file settings (WAL, `synchronous`), into a table
 * with the same unique `(persistence_id, seq_nr)` index. No framework, no aggregates, no waiting callers.
 *
 * @example
 * ```ts
 * const raw = runRawAppend({ file: '/tmp/raw.db', commands: 20_000, streams: 1_000, synchronous: 'FULL' })
 * ```
 */
export function runRawAppend(options: RawAppendOptions): RawAppendResult {
  const batch = options.batch ?? RAW_BATCH
  const db = openRawSqlite(Database, options.file, options.synchronous)
  try {
    db.exec(RAW_SCHEMA)
    const insert = db.prepare(`INSERT INTO raw_journal
      (persistence_id, seq_nr, event_type, event_version, payload, metadata, tags, written_at, writer_id)
      VALUES (@persistence_id, @seq_nr, @event_type, @event_version, @payload, @metadata, @tags, @written_at, @writer_id)`)
    const writerId = randomUUID()
    // Correlation ids the way statesource makes them: a random UUID whose last 12 hex digits count up.
    const correlationPrefix = randomUUID().slice(0, 24)
    let correlations = 0
    const insertRange = db.transaction((from: number, to: number, warmUp: boolean) => {
      for (let i = from; i < to; i++) {
        const correlationId = correlationPrefix + (++correlations).toString(16).padStart(12, '0')
        insert.run(rowAt(i, options, writerId, correlationId, warmUp))
      }
    })
    // Warm-up, like the command runs: the warm-up workload's rows, in batches of the same size.
    for (let from = 0; from < WARM_UP.commands; from += batch) {
      insertRange(from, Math.min(WARM_UP.commands, from + batch), true)
    }
    const started = performance.now()
    for (let from = 0; from < options.commands; from += batch) {
      insertRange(from, Math.min(options.commands, from + batch), false)
    }
    const seconds = (performance.now() - started) / 1000
    const stored = db
      .prepare(`SELECT count(*) AS n FROM raw_journal WHERE persistence_id NOT LIKE '%warm-%'`)
      .get() as {
      n: number
    }
    return {
      rows: options.commands,
      batch,
      seconds,
      rowsPerSec: options.commands / seconds,
      storedRows: stored.n,
    }
  } finally {
    db.close()
  }
}
