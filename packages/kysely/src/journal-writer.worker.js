// @ts-check
// The journal's writer thread: its own better-sqlite3 connection to the database file, running the
// group-commit transactions that `writer-thread.ts` posts, so that inserting rows and waiting for the disk
// to sync happen off the application's event loop. Plain JavaScript: Node loads it without a TS loader.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { createAppendTransaction } from './append-transaction.js'

/**
 * @typedef {object} WriterData
 * @property {string} file The database file (already created and migrated by the application's connection).
 * @property {string[]} pragmas Run once on the connection, in order (`busy_timeout = 5000`, ...).
 * @property {import('./append-transaction.js').AppendSql} sql
 */

/**
 * @typedef {object} AppendMessage
 * @property {unknown[]} batch
 * @property {number} requests
 * @property {number} now
 * @property {string} writerId
 */

const port = parentPort
if (!port) throw new Error('journal-writer.worker.js runs as a worker thread of @statesource/kysely.')
const { file, pragmas, sql } = /** @type {WriterData} */ (workerData)

/**
 * @typedef {object} Writer
 * @property {import('better-sqlite3').Database} db
 * @property {import('./append-transaction.js').AppendTransaction} body
 * @property {import('better-sqlite3').Statement} begin
 * @property {import('better-sqlite3').Statement} commit
 * @property {import('better-sqlite3').Statement} rollback
 */

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

/** One group-commit transaction; throws (after rolling back) when the batch as a whole failed. */
function append(/** @type {AppendMessage} */ message) {
  writer ??= open()
  const { db, body, begin, commit, rollback } = writer
  begin.run()
  try {
    const results = body.append(message.batch, message.requests, message.now, message.writerId)
    commit.run()
    return results
  } catch (error) {
    body.invalidate()
    if (db.inTransaction) rollback.run()
    throw error
  }
}

port.on('message', (/** @type {AppendMessage | 'close'} */ message) => {
  if (message === 'close') {
    writer?.db.close()
    port.close()
    return
  }
  try {
    port.postMessage({ results: append(message) })
  } catch (error) {
    const { message: text, code } = /** @type {{ message?: unknown, code?: unknown }} */ (error ?? {})
    port.postMessage({
      error: { message: String(text ?? error), code: typeof code === 'string' ? code : undefined },
    })
  }
})
