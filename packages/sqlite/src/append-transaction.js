// @ts-check
// Hot path: measured by packages/sqlite/bench/journal-bench.ts (pnpm bench). Measure before and after changing this file.
// The group-commit transaction: which requests of a batch are accepted, and so which sequence numbers their events
// get ({@link decideRequest}, the one copy of that rule, used by every path), and the body that runs it on a
// better-sqlite3 connection ({@link createAppendTransaction}), both on the application's connection and in the
// writer thread (`journal-writer.worker.js`). Plain JavaScript because the writer thread loads it without a
// TypeScript loader. The Kysely path runs the same decision through its own statements (`appendProgram` in
// `append-batch.ts`); every path returns the results in the format of `encoded-batch.js`.
import { ACCEPTED, conflictStatus } from './encoded-batch.js'

/** @typedef {import('./encoded-batch.js').BatchRequest} BatchRequest */
/** @typedef {import('./encoded-batch.js').BatchEvent} BatchEvent */

/**
 * The statements the body runs, from `SQL` in `journal-sql.ts` (passed in, so the SQL lives in one place).
 *
 * @typedef {object} AppendSql
 * @property {string} currentSeqNr `(persistence_id, persistence_id)` → the stream's highest sequence number.
 * @property {string} insertEvent The event row, bound with {@link eventRowParams}.
 * @property {string} insertTag `(tag, ordering, persistence_id, seq_nr)`.
 * @property {string} insertStream `(persistence_id, position)`, ignored when the stream exists.
 */

/**
 * What every row of one transaction shares.
 *
 * @typedef {object} AppendContext
 * @property {number} now
 * @property {string} writerId
 */

/**
 * One event row to insert.
 *
 * @typedef {object} PlannedRow
 * @property {string} persistenceId
 * @property {number} seqNr
 * @property {BatchEvent} event
 */

/**
 * @typedef {object} AppendTransaction
 * @property {(requests: import('./encoded-batch.js').RequestReader, context: AppendContext) => number[]} append
 *   Must run inside `BEGIN IMMEDIATE`. Returns the results in the format of `encoded-batch.js`. Throws only for
 *   the whole batch.
 * @property {() => void} invalidate Forgets the cached stream heads; call it when a transaction did not commit.
 */

/**
 * Decides one request of a batch: it is accepted when its `expectedSeqNr` is its stream's head (the stream's
 * current sequence number, after the requests before it in the batch), and its events then take the sequence
 * numbers after it, in order; otherwise it conflicts and stores nothing.
 *
 * @param {Map<string, number>} heads Stream heads already known; a missing one is read with `readHead`. Updated
 *   with the head after this request.
 * @param {(persistenceId: string) => number} readHead
 * @param {string} persistenceId
 * @param {number} expectedSeqNr
 * @param {number} eventCount
 * @returns {number} `ACCEPTED` or a conflict status (`encoded-batch.js`).
 */
export function decideRequest(heads, readHead, persistenceId, expectedSeqNr, eventCount) {
  let head = heads.get(persistenceId)
  if (head === undefined) {
    head = readHead(persistenceId)
    heads.set(persistenceId, head)
  }
  if (expectedSeqNr !== head) return conflictStatus(head)
  heads.set(persistenceId, head + eventCount)
  return ACCEPTED
}

/**
 * Decides every request of a batch with {@link decideRequest}, in order.
 *
 * @param {readonly BatchRequest[]} requests
 * @param {Map<string, number>} heads
 * @param {(persistenceId: string) => number} readHead
 * @returns {number[]} Per request, in order: `ACCEPTED` or a conflict status.
 */
export function decideAppend(requests, heads, readHead) {
  return requests.map(({ persistenceId, expectedSeqNr, events }) =>
    decideRequest(heads, readHead, persistenceId, expectedSeqNr, events.length),
  )
}

/**
 * The event rows of the accepted requests, in request order, each with its sequence number.
 *
 * @param {readonly BatchRequest[]} requests
 * @param {readonly number[]} statuses From {@link decideAppend}.
 * @returns {PlannedRow[]}
 */
export function acceptedRows(requests, statuses) {
  /** @type {PlannedRow[]} */
  const rows = []
  for (let r = 0; r < requests.length; r++) {
    if (statuses[r] !== ACCEPTED) continue
    const { persistenceId, expectedSeqNr, events } = /** @type {BatchRequest} */ (requests[r])
    let seqNr = expectedSeqNr
    for (const event of events) rows.push({ persistenceId, seqNr: ++seqNr, event })
  }
  return rows
}

/**
 * The results of a decided batch once the rows of {@link acceptedRows} are stored (format of `encoded-batch.js`).
 *
 * @param {readonly BatchRequest[]} requests
 * @param {readonly number[]} statuses From {@link decideAppend}.
 * @param {readonly number[]} orderings The ordering of each accepted row, in the order of {@link acceptedRows}.
 * @returns {number[]}
 */
export function resultsOf(requests, statuses, orderings) {
  /** @type {number[]} */
  const results = []
  let row = 0
  for (let r = 0; r < requests.length; r++) {
    const status = /** @type {number} */ (statuses[r])
    results.push(status)
    if (status !== ACCEPTED) continue
    const events = /** @type {BatchRequest} */ (requests[r]).events.length
    for (let e = 0; e < events; e++) results.push(/** @type {number} */ (orderings[row++]))
  }
  return results
}

const MAX_CACHED_HEADS = 100_000

/**
 * The bound values of one event row, in `INSERT_COLUMNS` order (`journal-sql.ts`). Both insert paths use it:
 * this body and the Kysely program's multi-row inserts.
 *
 * @param {string} persistenceId
 * @param {number} seqNr
 * @param {BatchEvent} event
 * @param {AppendContext} context
 * @returns {unknown[]}
 */
export function eventRowParams(persistenceId, seqNr, event, context) {
  return [
    persistenceId,
    seqNr,
    event.type,
    event.version,
    event.payloadJson,
    event.metadataJson,
    event.tagsJson,
    context.now,
    context.writerId,
  ]
}

/**
 * Prepares the body on a connection.
 *
 * @remarks
 * Inside `BEGIN IMMEDIATE` SQLite has no other writer, so checking a stream's current sequence number and
 * inserting after it cannot race, not even with other processes. The current sequence numbers of streams
 * this connection wrote are cached; `PRAGMA data_version` changes when any other connection (another
 * process, or another connection in this one) commits, and then the cache is dropped, so the check is as
 * strict as a `SELECT` per request at a fraction of the cost.
 *
 * @param {import('better-sqlite3').Database} db
 * @param {AppendSql} sql
 * @returns {AppendTransaction}
 */
export function createAppendTransaction(db, sql) {
  const current = db.prepare(sql.currentSeqNr).pluck()
  const dataVersion = db.prepare('PRAGMA data_version').pluck()
  const insertEvent = db.prepare(sql.insertEvent)
  const insertTag = db.prepare(sql.insertTag)
  const insertStream = db.prepare(sql.insertStream)
  /** @type {Map<string, number>} */
  const heads = new Map()
  const readHead = (/** @type {string} */ persistenceId) =>
    /** @type {number} */ (current.get(persistenceId, persistenceId))
  /** @type {unknown} */
  let seenVersion

  return {
    invalidate() {
      heads.clear()
      seenVersion = undefined
    },
    append(requests, context) {
      const version = dataVersion.get()
      if (version !== seenVersion || heads.size > MAX_CACHED_HEADS) {
        heads.clear()
        seenVersion = version
      }
      // The results as resultsOf() gives them for the Kysely path, built as the rows are stored.
      /** @type {number[]} */
      const results = []
      for (let r = 0; r < requests.requests; r++) {
        requests.nextRequest()
        const { persistenceId, expectedSeqNr, eventCount } = requests
        const status = decideRequest(heads, readHead, persistenceId, expectedSeqNr, eventCount)
        results.push(status)
        if (status !== ACCEPTED) {
          for (let e = 0; e < eventCount; e++) requests.skipEvent()
          continue
        }
        let seqNr = expectedSeqNr
        for (let e = 0; e < eventCount; e++) {
          const event = requests.nextEvent()
          seqNr++
          const params = eventRowParams(persistenceId, seqNr, event, context)
          const ordering = Number(insertEvent.run(params).lastInsertRowid)
          for (const tag of event.uniqueTags) insertTag.run(tag, ordering, persistenceId, seqNr)
          if (seqNr === 1) insertStream.run(persistenceId, ordering)
          results.push(ordering)
        }
      }
      return results
    },
  }
}
