// @ts-check
// The group-commit transaction body on better-sqlite3. Plain JavaScript because it runs in two places: on
// the application's connection (the inline writer) and in the writer thread (`journal-writer.worker.js`),
// which Node loads without a TypeScript loader. Both hand it the same batch (see `encodeBatch` in
// `append-batch.ts`) and read back the same flat results (`applyResults`).

/**
 * The statements the body runs, from `SQL` in `journal-sql.ts` (passed in, so the SQL lives in one place).
 *
 * @typedef {object} AppendSql
 * @property {string} currentSeqNr `(persistence_id, persistence_id)` → the stream's highest sequence number.
 * @property {string} insertEvent The event row, columns in the order `encodeBatch` lays them out.
 * @property {string} insertTag `(tag, ordering, persistence_id, seq_nr)`.
 * @property {string} insertStream `(persistence_id, position)`, ignored when the stream exists.
 */

/**
 * A batch: every string back to back in `text`, and the numbers that cut it up in `layout` (see
 * `EncodedBatch` in `append-batch.ts`).
 *
 * @typedef {object} Batch
 * @property {string} text
 * @property {Float64Array} layout
 * @property {number} requests
 */

/**
 * @typedef {object} AppendTransaction
 * @property {(batch: Batch, now: number, writerId: string) => number[]} append
 *   Must run inside `BEGIN IMMEDIATE`. Returns one entry per request: `-1 - head` for a conflict (the
 *   stream's current sequence number was `head`), or `0` followed by the ordering of each of its events.
 *   Throws only for the whole batch.
 * @property {() => void} invalidate Forgets the cached stream heads; call it when a transaction did not commit.
 */

const MAX_CACHED_HEADS = 100_000

/**
 * The bound values of one event row, in `INSERT_COLUMNS` order (`journal-sql.ts`). Both insert paths use it:
 * this body and the Kysely program's multi-row inserts.
 *
 * @param {string} persistenceId
 * @param {number} seqNr
 * @param {{ type: string, version: number, payloadJson: string, metadataJson: string, tagsJson: string }} event
 * @param {{ now: number, writerId: string }} context
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
  /** @type {unknown} */
  let seenVersion

  return {
    invalidate() {
      heads.clear()
      seenVersion = undefined
    },
    append({ text, layout, requests }, now, writerId) {
      const context = { now, writerId }
      const version = dataVersion.get()
      if (version !== seenVersion || heads.size > MAX_CACHED_HEADS) {
        heads.clear()
        seenVersion = version
      }
      /** @type {number[]} */
      const results = []
      let at = 0 // in layout
      let from = 0 // in text
      const next = (/** @type {number} */ length) => {
        const start = from
        from += length
        return text.slice(start, from)
      }
      for (let r = 0; r < requests; r++) {
        const pid = next(/** @type {number} */ (layout[at]))
        const expected = layout[at + 1]
        const eventCount = /** @type {number} */ (layout[at + 2])
        at += 3
        let head = heads.get(pid)
        if (head === undefined) {
          head = /** @type {number} */ (current.get(pid, pid))
          heads.set(pid, head)
        }
        if (expected !== head) {
          results.push(-1 - head)
          // Skip this request's events in both buffers.
          for (let e = 0; e < eventCount; e++) {
            const tagCount = /** @type {number} */ (layout[at + 5])
            let skip = /** @type {number} */ (layout[at]) + /** @type {number} */ (layout[at + 2])
            skip += /** @type {number} */ (layout[at + 3]) + /** @type {number} */ (layout[at + 4])
            for (let t = 0; t < tagCount; t++) skip += /** @type {number} */ (layout[at + 6 + t])
            from += skip
            at += 6 + tagCount
          }
          continue
        }
        results.push(0)
        let seqNr = head
        for (let e = 0; e < eventCount; e++) {
          seqNr++
          const event = {
            type: next(/** @type {number} */ (layout[at])),
            version: /** @type {number} */ (layout[at + 1]),
            payloadJson: next(/** @type {number} */ (layout[at + 2])),
            metadataJson: next(/** @type {number} */ (layout[at + 3])),
            tagsJson: next(/** @type {number} */ (layout[at + 4])),
          }
          const tagCount = /** @type {number} */ (layout[at + 5])
          at += 6
          const ordering = Number(insertEvent.run(eventRowParams(pid, seqNr, event, context)).lastInsertRowid)
          for (let t = 0; t < tagCount; t++)
            insertTag.run(next(/** @type {number} */ (layout[at + t])), ordering, pid, seqNr)
          at += tagCount
          if (seqNr === 1) insertStream.run(pid, ordering)
          results.push(ordering)
        }
        heads.set(pid, seqNr)
      }
      return results
    },
  }
}
