import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { JournalOutcomeUnknownError } from '@statesource/core'
import { encodeAppendRequest } from '@statesource/core/internal'
import { appendRequest, newEvent } from '@statesource/core/testing'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { connectionWriter } from '../src/append-writer.ts'
import { encodeBatch } from '../src/encoded-batch.js'
import { APPEND_SQL } from '../src/journal-sql.ts'
import { openSqlite } from '../src/open-sqlite.ts'
import { BetterSqliteDriver } from '../src/sql-driver.ts'
import { SqliteJournal } from '../src/sqlite-journal.ts'
import { JournalWriterThread } from '../src/writer-thread.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-writer-thread-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const batchFor = (persistenceId: string, expectedSeqNr: number) =>
  encodeBatch([
    encodeAppendRequest(
      appendRequest(persistenceId, [newEvent('x', { n: 1 }, { tags: ['t'] })], {
        expectedSeqNr,
      }),
    ),
  ])

describe('JournalWriterThread', () => {
  it('fails the batches of a thread that died with JOURNAL_OUTCOME_UNKNOWN, then starts a new one', async () => {
    const file = path.join(dir, 'crash.db')
    await (await openSqlite(file)).close() // creates and migrates the file
    const thread = new JournalWriterThread({
      file,
      pragmas: [],
      sql: APPEND_SQL,
      maxBatchEvents: 100,
      workerUrl: new URL('./fixtures/crashing-writer.worker.js', import.meta.url),
    })
    try {
      const first = thread.append(batchFor('s', 0), 1, Date.now(), 'w')
      const second = thread.append(batchFor('t', 0), 1, Date.now(), 'w')
      for (const lost of [first, second]) {
        await expect(lost).rejects.toBeInstanceOf(JournalOutcomeUnknownError)
        await expect(lost).rejects.toMatchObject({ code: 'JOURNAL_OUTCOME_UNKNOWN' })
        await expect(lost).rejects.toThrow(
          'The outcome of a journal write is unknown: the journal writer thread stopped (the writer thread crashed (test)) while the write was being committed, so its events may or may not be stored. Retry the command with the same commandId',
        )
      }
      // The next batch gets a new thread (which dies the same way here): nothing stays stuck.
      await expect(thread.append(batchFor('s', 0), 1, Date.now(), 'w')).rejects.toThrow(
        'may or may not be stored',
      )
    } finally {
      await thread.close()
    }
  })

  it('never lets a dead thread touch the batches of the thread that replaced it', async () => {
    const file = path.join(dir, 'crash-once.db')
    await (await openSqlite(file)).close()
    const thread = new JournalWriterThread({
      file,
      pragmas: [],
      sql: APPEND_SQL,
      maxBatchEvents: 100,
      workerUrl: new URL('./fixtures/crash-once-writer.worker.js', import.meta.url),
    })
    const transactions: boolean[] = []
    thread.onTransaction = ({ committed }) => transactions.push(committed)
    try {
      // The retry is issued from the rejection itself, before the dead thread has even exited.
      const retried = thread.append(batchFor('a', 0), 1, Date.now(), 'w').then(
        () => {
          throw new Error('the first batch should have been lost')
        },
        () => thread.append(batchFor('b', 0), 1, Date.now(), 'w'),
      )
      const [, orderingB] = await retried
      const [, orderingC] = await thread.append(batchFor('c', 0), 1, Date.now(), 'w')
      expect(orderingC).toBe(orderingB! + 1)
      expect(transactions).toEqual([false, true, true])
    } finally {
      await thread.close()
    }
    const sqlite = await openSqlite(file)
    const ids = await Promise.all(['a', 'b', 'c'].map((id) => sqlite.journal.highestSeqNr(id)))
    expect(ids).toEqual([0, 1, 1])
    await sqlite.close()
  })

  it('refuses batches once closed', async () => {
    const file = path.join(dir, 'closed.db')
    await (await openSqlite(file)).close()
    const thread = new JournalWriterThread({ file, pragmas: [], sql: APPEND_SQL, maxBatchEvents: 100 })
    expect((await thread.append(batchFor('s', 0), 1, Date.now(), 'w'))[0]).toBe(0)
    await thread.close()
    await expect(thread.append(batchFor('s', 1), 1, Date.now(), 'w')).rejects.toThrow(
      'The journal writer thread is closed.',
    )
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

  it('rejects an append whose thread died after committing with JOURNAL_OUTCOME_UNKNOWN; the events are stored', async () => {
    const file = path.join(dir, 'commit-then-crash.db')
    await (await openSqlite(file)).close()
    const thread = new JournalWriterThread({
      file,
      pragmas: [],
      sql: APPEND_SQL,
      maxBatchEvents: 100,
      workerUrl: new URL('../test/fixtures/commit-then-crash-writer.worker.js', import.meta.url),
    })
    const driver = new BetterSqliteDriver(new Database(file))
    const journal = new SqliteJournal(driver, { writerId: 'w' }, { direct: connectionWriter(driver), thread })
    try {
      // Enough events that the batch goes to the thread rather than being written inline.
      const events = Array.from({ length: 200 }, () => newEvent('x', {}, { metadata: { commandId: 'c-1' } }))
      await expect(journal.append([appendRequest('s-1', events)])).rejects.toMatchObject({
        code: 'JOURNAL_OUTCOME_UNKNOWN',
      })
      // The outcome was unknown to the caller, not to the journal: a retry's recovery finds the command id.
      const stored = await journal.replay('s-1')
      expect(stored).toHaveLength(200)
      expect(stored[0]?.metadata.commandId).toBe('c-1')
      const [next] = await journal.append([appendRequest('s-1', [newEvent('y')], { expectedSeqNr: 200 })])
      expect(next?.ok).toBe(true)
    } finally {
      await journal.close()
      driver.database.close()
    }
  })
})
