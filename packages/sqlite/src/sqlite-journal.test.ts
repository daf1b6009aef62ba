import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describeJournalContract } from '@statesource/core/testing'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { afterAll } from 'vitest'
import { fromKysely, openSqlite } from './open-sqlite.ts'

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
