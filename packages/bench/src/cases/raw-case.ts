import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { openSqlite } from '@statesource/sqlite'
import Database from 'better-sqlite3'
import { commandAt, decideCart, type WorkloadSize, warmUpCommandAt, warmUpOf } from '../cart-workload.ts'
import { openRawSqlite, type SqliteSynchronous } from '../sqlite-settings.ts'

/** The context rate of earlier reports: raw at 1,000 rows per transaction. */
export const RAW_BATCH = 1000

/** Options of {@link runRawAppend}. */
export interface RawAppendOptions {
  /** Scratch directory: one fresh file per batch size. */
  readonly dir: string
  readonly synchronous: SqliteSynchronous
  readonly workload: WorkloadSize
  /** Rows per transaction; each size runs on its own fresh file, in this order. */
  readonly batches: readonly number[]
  /** Rows per throughput window (throughput against journal size). Default: one window. */
  readonly windowRows?: number
  /** Only the first this many commands' rows (what a time-limited statesource run completed). Default: all. */
  readonly commands?: number
}

/** One batch size of {@link runRawAppend}. */
export interface RawAppendRun {
  readonly batch: number
  readonly rows: number
  readonly seconds: number
  readonly rowsPerSec: number
  readonly storedRows: number
  /** Rows per second of each window, with the journal's size at its end. */
  readonly windows: readonly { readonly journalEvents: number; readonly rowsPerSec: number }[]
}

const SQL = {
  insertEvent: `INSERT INTO statesource_journal (persistence_id, seq_nr, event_type, event_version, payload, metadata, tags, written_at, writer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  insertStream: `INSERT OR IGNORE INTO statesource_stream (persistence_id, position, deleted_to) VALUES (?, ?, 0)`,
}

type Row = [string, number, string, number, string, string, string, number, string]

/**
 * The rows statesource stores for the events of a workload, encoded before any timing: persistence id,
 * sequence number, type, version, payload and metadata JSON (a UUID-shaped correlation id, like
 * statesource's), tags, time and writer id, as positional parameters.
 */
function encodeRows(size: WorkloadSize, warmUp: boolean, limit = size.commands): Row[] {
  const writerId = randomUUID()
  const correlationPrefix = randomUUID().slice(0, 24)
  const seqNrs = new Map<string, number>()
  const rows: Row[] = []
  const now = Date.now()
  const commands = warmUp ? warmUpOf(size).commands : Math.min(limit, size.commands)
  for (let i = 0; i < commands; i++) {
    const { cartId, command } = warmUp ? warmUpCommandAt(i, size) : commandAt(i, size)
    // Every command of the workload is accepted; the events do not depend on the cart's state here.
    const decision = decideCart(command, cartId, 'Opened', { items: 1, total: 1 })
    if ('rejected' in decision)
      throw new Error(`The workload's command ${i} was rejected: ${decision.rejected}`)
    const persistenceId = `shopping_cart|${cartId}`
    const metadata = JSON.stringify({ correlationId: correlationPrefix + i.toString(16).padStart(12, '0') })
    for (const { type, ...payload } of decision) {
      const seqNr = (seqNrs.get(persistenceId) ?? 0) + 1
      seqNrs.set(persistenceId, seqNr)
      rows.push([persistenceId, seqNr, type, 1, JSON.stringify(payload), metadata, '[]', now, writerId])
    }
  }
  return rows
}

/**
 * The storage limit: raw better-sqlite3 on statesource's own schema (the file is created by `openSqlite`, so
 * the tables and indexes are the same, the stream table included), rows encoded before timing, inserted with
 * cached positional prepared statements (the event row, and the stream row for a stream's first event, as
 * statesource does), `batch` rows per `BEGIN IMMEDIATE … COMMIT`. No framework, no callers waiting.
 *
 * @example
 * ```ts
 * const [run] = await runRawAppend({ dir: '/tmp/x', synchronous: 'FULL', workload: { commands: 20_000, streams: 1_000 }, batches: [100] })
 * ```
 */
export async function runRawAppend(options: RawAppendOptions): Promise<RawAppendRun[]> {
  const warmRows = encodeRows(options.workload, true)
  const timedRows = encodeRows(options.workload, false, options.commands)
  const runs: RawAppendRun[] = []
  for (const [index, batch] of options.batches.entries()) {
    const file = path.join(options.dir, `raw-${index}.db`)
    await (await openSqlite(file, { synchronous: options.synchronous, writer: 'inline' })).close()
    const db = openRawSqlite(Database, file, options.synchronous)
    try {
      const insertEvent = db.prepare(SQL.insertEvent)
      const insertStream = db.prepare(SQL.insertStream)
      const begin = db.prepare('BEGIN IMMEDIATE')
      const commit = db.prepare('COMMIT')
      const insert = (rows: Row[], from: number, to: number) => {
        begin.run()
        for (let i = from; i < to; i++) {
          const row = rows[i]!
          const ordering = insertEvent.run(row).lastInsertRowid
          if (row[1] === 1) insertStream.run(row[0], ordering)
        }
        commit.run()
      }
      for (let from = 0; from < warmRows.length; from += batch) {
        insert(warmRows, from, Math.min(warmRows.length, from + batch))
      }
      const windowRows = options.windowRows ?? timedRows.length
      const windows: { journalEvents: number; rowsPerSec: number }[] = []
      const started = performance.now()
      let windowStarted = started
      let windowDone = 0
      for (let from = 0; from < timedRows.length; from += batch) {
        const to = Math.min(timedRows.length, from + batch)
        insert(timedRows, from, to)
        windowDone += to - from
        if (windowDone >= windowRows || to === timedRows.length) {
          const now = performance.now()
          windows.push({ journalEvents: to, rowsPerSec: windowDone / ((now - windowStarted) / 1000) })
          windowStarted = now
          windowDone = 0
        }
      }
      const seconds = (performance.now() - started) / 1000
      const stored = db
        .prepare(`SELECT count(*) FROM statesource_journal WHERE persistence_id NOT LIKE '%warm-%'`)
        .pluck()
        .get() as number
      runs.push({
        batch,
        rows: timedRows.length,
        seconds,
        rowsPerSec: timedRows.length / seconds,
        storedRows: stored,
        windows,
      })
    } finally {
      db.close()
    }
  }
  return runs
}
