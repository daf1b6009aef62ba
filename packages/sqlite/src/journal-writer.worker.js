// @ts-check
// Hot path: measured by packages/sqlite/bench/journal-bench.ts (pnpm bench). Measure before and after changing this file.
// The journal's writer thread: its own better-sqlite3 connection to the database file, running the
// group-commit batches that `writer-thread.ts` posts, so that inserting rows and waiting for the disk to sync
// happen off the application's event loop. Plain JavaScript: Node loads it without a TypeScript loader.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { createAppendTransaction } from './append-transaction.js'
import { BatchReader } from './encoded-batch.js'

/**
 * @typedef {object} WriterData
 * @property {string} file The database file (already created and migrated by the application's connection).
 * @property {string[]} pragmas Run once on the connection, in order (`busy_timeout = 5000`, ...).
 * @property {import('./append-transaction.js').AppendSql} sql
 * @property {number} maxBatchEvents Batches are merged into one transaction up to about this many events.
 */

/**
 * One batch of the journal (the format of `encoded-batch.js`), with its own timestamp and writer id.
 *
 * @typedef {object} AppendMessage
 * @property {import('./encoded-batch.js').EncodedBatch} batch
 * @property {number} events
 * @property {number} now
 * @property {string} writerId
 */

/**
 * @typedef {object} Writer
 * @property {import('better-sqlite3').Database} db
 * @property {import('./append-transaction.js').AppendTransaction} body
 * @property {import('better-sqlite3').Statement} begin
 * @property {import('better-sqlite3').Statement} commit
 * @property {import('better-sqlite3').Statement} rollback
 */

const port = parentPort
if (!port) throw new Error('journal-writer.worker.js runs as a worker thread of @statesource/sqlite.')
const { file, pragmas, sql, maxBatchEvents } = /** @type {WriterData} */ (workerData)

/** @type {Writer | undefined} */
let writer

/** Opens the connection on first use, so that a failure to open is reported like any failed write. */
function open() {
  const db = new Database(file, { fileMustExist: true })
  try {
    for (const pragma of pragmas) db.pragma(pragma)
    return {
      db,
      body: createAppendTransaction(db, sql),
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
    }
  } catch (error) {
    db.close()
    throw error
  }
}

/** Writes several batches in one transaction; throws (after rolling back) when it failed as a whole. */
function commitTogether(/** @type {AppendMessage[]} */ messages) {
  writer ??= open()
  const { db, body, begin, commit, rollback } = writer
  begin.run()
  try {
    const results = messages.map((m) =>
      body.append(new BatchReader(m.batch), { now: m.now, writerId: m.writerId }),
    )
    commit.run()
    return results
  } catch (error) {
    body.invalidate()
    if (db.inTransaction) rollback.run()
    throw error
  }
}

function close() {
  writer?.db.close()
  port?.close()
}

// Group commit, second stage: whatever batches arrived while the previous transaction was being written go
// into the next one together, so the thread never waits for the application to send more.
port.on('message', (/** @type {AppendMessage | 'close'} */ first) => {
  if (first === 'close') return close()
  const messages = [first]
  let events = first.events
  let closing = false
  while (events < maxBatchEvents) {
    const next = receiveMessageOnPort(port)
    if (!next) break
    if (next.message === 'close') {
      closing = true
      break
    }
    messages.push(next.message)
    events += next.message.events
  }
  const requests = messages.reduce((sum, m) => sum + m.batch.requests, 0)
  try {
    const results = commitTogether(messages)
    port.postMessage({ results, requests, committedAt: performance.timeOrigin + performance.now() })
  } catch (error) {
    const { message: text, code } = /** @type {{ message?: unknown, code?: unknown }} */ (error ?? {})
    port.postMessage({
      count: messages.length,
      requests,
      error: { message: String(text ?? error), code: typeof code === 'string' ? code : undefined },
    })
  }
  if (closing) close()
})
