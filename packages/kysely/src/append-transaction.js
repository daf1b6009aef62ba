// @ts-check
// The group-commit transaction body on better-sqlite3. Plain JavaScript because it runs in two places: on
// the application's connection (the inline writer) and in the writer thread (`journal-writer.worker.js`),
// which Node loads without a TypeScript loader. Both hand it the same flat batch (see `encodeBatch` in
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
 * @typedef {object} AppendTransaction
 * @property {(batch: readonly unknown[], requests: number, now: number, writerId: string) => number[]} append
 *   Must run inside `BEGIN IMMEDIATE`. Returns one entry per request: `-1 - head` for a conflict (the
 *   stream's current sequence number was `head`), or `0` followed by the ordering of each of its events.
 *   Throws only for the whole batch.
 * @property {() => void} invalidate Forgets the cached stream heads; call it when a transaction did not commit.
 */

const MAX_CACHED_HEADS = 100_000

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
 * Batch layout, per request: `persistenceId, expectedSeqNr, eventCount`, then per event
 * `type, version, payloadJson, metadataJson, tagsJson, tagCount, ...uniqueTags`.
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
    append(batch, requests, now, writerId) {
      const version = dataVersion.get()
      if (version !== seenVersion || heads.size > MAX_CACHED_HEADS) {
        heads.clear()
        seenVersion = version
      }
      /** @type {number[]} */
      const results = []
      let at = 0
      for (let r = 0; r < requests; r++) {
        const pid = /** @type {string} */ (batch[at])
        const expected = /** @type {number} */ (batch[at + 1])
        const eventCount = /** @type {number} */ (batch[at + 2])
        at += 3
        let head = heads.get(pid)
        if (head === undefined) {
          head = /** @type {number} */ (current.get(pid, pid))
          heads.set(pid, head)
        }
        if (expected !== head) {
          results.push(-1 - head)
          for (let e = 0; e < eventCount; e++) at += 6 + /** @type {number} */ (batch[at + 5])
          continue
        }
        results.push(0)
        let seqNr = head
        for (let e = 0; e < eventCount; e++) {
          seqNr++
          const ordering = Number(
            insertEvent.run(
              pid,
              seqNr,
              batch[at],
              batch[at + 1],
              batch[at + 2],
              batch[at + 3],
              batch[at + 4],
              now,
              writerId,
            ).lastInsertRowid,
          )
          const tagCount = /** @type {number} */ (batch[at + 5])
          at += 6
          for (let t = 0; t < tagCount; t++) insertTag.run(batch[at + t], ordering, pid, seqNr)
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
