import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createSqliteScheduleStore, openSqlite } from '@statesource/sqlite'
import { afterAll, expect, it } from 'vitest'

const root = path.resolve(import.meta.dirname, '../..')
const child = path.join(import.meta.dirname, 'scheduling-restart-child.ts')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-schedule-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Runs one "process" of the app on the database file and returns its exit code and JSON line. */
function run(file: string, mode: 'schedule' | 'start', env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', child, file, mode], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  })
  const line = result.stdout.trim().split('\n').filter(Boolean).at(-1)
  return { status: result.status, stderr: result.stderr, output: line ? JSON.parse(line) : undefined }
}

async function inspect(file: string) {
  const sqlite = await openSqlite(file)
  try {
    const events = await sqlite.journal.replay('wallet|w-1')
    const store = await createSqliteScheduleStore(sqlite)
    return {
      credits: events.filter((e) => e.type === 'credited').length,
      overdue: (await store.get('overdue'))?.status,
    }
  } finally {
    await sqlite.close()
  }
}

it('a durable schedule survives process restarts and fires exactly once, even after a crash mid-fire', async () => {
  const file = path.join(dir, 'app.db')

  // Process 1 schedules an overdue command and one due in an hour, then exits before any timer runs.
  const first = run(file, 'schedule')
  expect(first.stderr).toBe('')
  expect(first).toMatchObject({ status: 0, output: { scheduled: ['overdue', 'later'] } })

  // Process 2 fires the overdue one at start-up and dies after the send, before marking it fired.
  const crashed = run(file, 'start', { CRASH_AFTER_SEND: '1' })
  expect(crashed.status).toBe(3)
  expect(await inspect(file)).toEqual({ credits: 1, overdue: 'pending' }) // written, but not marked fired

  // Process 3 finds it still pending, fires it again (same command id: a duplicate, nothing written).
  const third = run(file, 'start')
  expect(third.stderr).toBe('')
  expect(third).toMatchObject({ status: 0, output: { started: { rearmed: 1, fired: 1 }, overdue: 'fired' } })

  // Process 4 has nothing overdue left; the later one is armed again.
  const fourth = run(file, 'start')
  expect(fourth).toMatchObject({ status: 0, output: { started: { rearmed: 1, fired: 0 }, overdue: 'fired' } })

  const sqlite = await openSqlite(file)
  try {
    const events = await sqlite.journal.replay('wallet|w-1')
    expect(events.map((e) => [e.type, e.payload, e.metadata.commandId ?? null])).toEqual([
      ['opened', {}, null],
      ['credited', { amount: 10 }, 'overdue'],
    ])
    const store = await createSqliteScheduleStore(sqlite)
    expect((await store.pending()).map((s) => [s.id, s.command])).toEqual([
      ['later', { type: 'credit', amount: 99 }],
    ])
  } finally {
    await sqlite.close()
  }
})
