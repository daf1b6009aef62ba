import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { appendRequest, describeJournalContract, newEvent } from '@statesource/core/testing'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { fromKysely, openSqlite } from '../src/open-sqlite.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-contract-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let n = 0

describeJournalContract('SQLite file (writer thread)', async () => {
  const sqlite = await openSqlite(path.join(dir, `contract-${n++}.db`))
  return {
    journal: sqlite.journal,
    readJournal: sqlite.readJournal({ pollIntervalMs: 20 }),
    snapshotStore: sqlite.snapshotStore,
    dispose: () => sqlite.close(),
  }
})

describeJournalContract('SQLite file (inline writer)', async () => {
  const sqlite = await openSqlite(path.join(dir, `contract-${n++}.db`), { writer: 'inline' })
  return {
    journal: sqlite.journal,
    readJournal: sqlite.readJournal({ pollIntervalMs: 20 }),
    snapshotStore: sqlite.snapshotStore,
    dispose: () => sqlite.close(),
  }
})

describeJournalContract('SQLite :memory:', async () => {
  const sqlite = await openSqlite(':memory:')
  return {
    journal: sqlite.journal,
    readJournal: sqlite.readJournal({ pollIntervalMs: 20 }),
    snapshotStore: sqlite.snapshotStore,
    dispose: () => sqlite.close(),
  }
})

describeJournalContract('SQLite through fromKysely', async () => {
  const database = new Database(':memory:')
  const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database }) })
  const sqlite = await fromKysely(kysely)
  return {
    journal: sqlite.journal,
    readJournal: sqlite.readJournal({ pollIntervalMs: 20 }),
    snapshotStore: sqlite.snapshotStore,
    dispose: async () => {
      await sqlite.close()
      await kysely.destroy()
    },
  }
})

describe('SQLite journal limits', () => {
  it('takes raised limits from openSqlite and refuses invalid ones before opening the file', async () => {
    const sqlite = await openSqlite(':memory:', { limits: { maxEventTypeBytes: 1_000 } })
    try {
      const [outcome] = await sqlite.journal.append([appendRequest('p', [newEvent('t'.repeat(900))])])
      expect(outcome?.ok).toBe(true)
      const [refused] = await sqlite.journal.append([appendRequest('q', [newEvent('t'.repeat(1_001))])])
      expect(refused?.ok === false && refused.error.message).toContain(
        'the limit is 1,000 (limits.maxEventTypeBytes). Nothing was written. Keep large data out of events (store a reference), or raise limits.maxEventTypeBytes (openSqlite(path, { limits })).',
      )
    } finally {
      await sqlite.close()
    }
    const file = path.join(dir, 'never-created.db')
    await expect(openSqlite(file, { limits: { maxTagsPerEvent: -1 } })).rejects.toThrow(
      'limits.maxTagsPerEvent must be an integer of at least 1, got -1',
    )
    expect(fs.existsSync(file)).toBe(false)
  })
})
