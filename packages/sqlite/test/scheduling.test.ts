import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describeSchedulingSuite } from '@statesource/test-support/scheduling-suite'
import { afterAll } from 'vitest'
import { createSqliteScheduleStore, openSqlite } from '../src/index.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-schedule-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let files = 0

describeSchedulingSuite('SQLite file', () => {
  const file = path.join(dir, `app-${files++}.db`)
  return {
    open: async () => {
      const sqlite = await openSqlite(file)
      return {
        journal: sqlite.journal,
        scheduleStore: await createSqliteScheduleStore(sqlite),
        close: () => sqlite.close(),
      }
    },
    process: { script: path.join(import.meta.dirname, 'fixtures/scheduling-child.ts'), args: [file] },
  }
})
