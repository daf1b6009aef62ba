import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describeReadSideSuite } from '@statesource/test-support/read-side-suite'
import { afterAll } from 'vitest'
import { openSqlite, type StatesourceSqlite } from '../src/index.ts'
import { appliedProjection } from './fixtures/applied-projection.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-read-side-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let files = 0

describeReadSideSuite('SQLite file', () => {
  const file = path.join(dir, `read-side-${files++}.db`)
  return {
    open: () => openSqlite(file),
    appliedProjection,
    readModel: async (sqlite: StatesourceSqlite) => {
      const row = (sql: string) => sqlite.db!.prepare(sql).pluck().get() as number | null
      return {
        rows: row('SELECT count(*) FROM applied') ?? 0,
        lastOrdering: row('SELECT max(ordering) FROM applied') ?? 0,
        total: row('SELECT sum(total) FROM totals') ?? 0,
      }
    },
    // Pages of events commit together: the process is killed after a few pages, in the middle of the next.
    crash: {
      script: path.join(import.meta.dirname, 'fixtures/read-side-crash-child.ts'),
      args: [file],
      streams: 6,
      perStream: 1_000,
      progressAt: 1_000,
      delayMs: 0.3,
    },
  }
})
