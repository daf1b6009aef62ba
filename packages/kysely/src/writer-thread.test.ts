import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { encodeBatch, encodeRequest } from './append-batch.ts'
import { APPEND_SQL } from './journal-sql.ts'
import { openSqlite } from './open-sqlite.ts'
import { JournalWriterThread } from './writer-thread.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-writer-thread-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const batchFor = (persistenceId: string, expectedSeqNr: number) =>
  encodeBatch([
    encodeRequest({
      persistenceId,
      expectedSeqNr,
      events: [{ type: 'x', version: 1, payload: { n: 1 }, tags: ['t'], metadata: {} }],
    }),
  ])

describe('JournalWriterThread', () => {
  it('fails the batches of a thread that died with an outcome-unknown JournalError, then starts a new one', async () => {
    const file = path.join(dir, 'crash.db')
    await (await openSqlite(file)).close() // creates and migrates the file
    const thread = new JournalWriterThread({ file, pragmas: [], sql: APPEND_SQL, maxBatchEvents: 100 })
    try {
      const [ordering] = (await thread.append(batchFor('s', 0), 1, Date.now(), 'w')).slice(1)
      expect(ordering).toBeGreaterThan(0)
      // The thread dies while a batch is in flight.
      const lost = thread.append(batchFor('s', 1), 1, Date.now(), 'w')
      await thread.terminate()
      await expect(lost).rejects.toMatchObject({ code: 'JOURNAL_FAILURE' })
      await expect(lost).rejects.toThrow('may or may not have been committed')
      // The next batch starts a fresh thread. Whether the lost batch committed is unknown to the caller;
      // the version check tells: either this append conflicts at 2 or it is the second event.
      const next = await thread.append(batchFor('s', 1), 1, Date.now(), 'w')
      expect([[0, ordering! + 1], [-1 - 2]]).toContainEqual(next)
    } finally {
      await thread.close()
    }
    const sqlite = await openSqlite(file)
    expect((await sqlite.journal.replay('s')).map((e) => e.seqNr)).toEqual([1, 2])
    await sqlite.close()
  })

  it('reports a failed transaction to every batch in it and keeps serving', async () => {
    const file = path.join(dir, 'missing.db')
    const thread = new JournalWriterThread({ file, pragmas: [], sql: APPEND_SQL, maxBatchEvents: 100 })
    try {
      // The file does not exist: opening the thread's connection fails like a write would.
      await expect(thread.append(batchFor('s', 0), 1, Date.now(), 'w')).rejects.toThrow(/unable to open/)
      await (await openSqlite(file)).close()
      expect((await thread.append(batchFor('s', 0), 1, Date.now(), 'w'))[0]).toBe(0)
    } finally {
      await thread.close()
    }
  })
})
