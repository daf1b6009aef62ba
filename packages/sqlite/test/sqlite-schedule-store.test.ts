import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInMemoryScheduleStore, type ScheduleStore, type StoredSchedule } from '@statesource/core'
import { afterAll, describe, expect, it } from 'vitest'
import { openSqlite } from '../src/open-sqlite.ts'
import { createSqliteScheduleStore } from '../src/sqlite-schedule-store.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-schedule-store-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let n = 0

function entry(id: string, dueAt: number): StoredSchedule {
  return {
    id,
    aggregateType: 'account',
    aggregateId: 'a-1',
    command: { type: 'deposit', amount: 1 },
    dueAt,
    commandId: id,
    metadata: { reason: 'test' },
    createdAt: 1,
    status: 'pending',
  }
}

const stores: [
  string,
  () => Promise<{ store: ScheduleStore; reopen?: () => Promise<ScheduleStore>; close: () => Promise<void> }>,
][] = [
  ['in memory', async () => ({ store: createInMemoryScheduleStore(), close: async () => {} })],
  [
    'SQLite file',
    async () => {
      const file = path.join(dir, `schedules-${n++}.db`)
      let sqlite = await openSqlite(file)
      return {
        store: await createSqliteScheduleStore(sqlite),
        reopen: async () => {
          await sqlite.close()
          sqlite = await openSqlite(file)
          return createSqliteScheduleStore(sqlite)
        },
        close: () => sqlite.close(),
      }
    },
  ],
]

describe.each(stores)('schedule store: %s', (_name, open) => {
  it('lists pending schedules earliest first and settles each one once', async () => {
    const { store, close } = await open()
    await store.add(entry('b', 20))
    await store.add(entry('a', 20))
    await store.add(entry('c', 10))
    expect((await store.pending()).map((s) => s.id)).toEqual(['c', 'a', 'b'])
    expect(await store.settle('a', { status: 'fired', at: 30 })).toBe(true)
    expect(await store.settle('a', { status: 'cancelled', at: 31 })).toBe(false) // the first settle wins
    expect(await store.settle('missing', { status: 'fired', at: 31 })).toBe(false)
    expect(await store.settle('b', { status: 'failed', at: 32, error: 'rejected' })).toBe(true)
    expect((await store.pending()).map((s) => s.id)).toEqual(['c'])
    expect(await store.get('a')).toEqual({ ...entry('a', 20), status: 'fired', settledAt: 30 })
    expect(await store.get('b')).toMatchObject({ status: 'failed', settledAt: 32, error: 'rejected' })
    expect(await store.purge(32)).toBe(1) // only 'a' was settled before 32
    expect(await store.get('a')).toBeUndefined()
    await close()
  })

  it('refuses a schedule id it already holds', async () => {
    const { store, close } = await open()
    await store.add(entry('x', 1))
    await expect(store.add(entry('x', 2))).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: 'A schedule with id "x" already exists. Use a new schedule id, or cancel the old one first.',
    })
    await close()
  })

  it('keeps pending schedules across a reopen of the database', async () => {
    const { store, reopen, close } = await open()
    if (!reopen) return close() // nothing to reopen in memory
    await store.add(entry('kept', 5))
    const again = await reopen()
    expect(await again.pending()).toEqual([entry('kept', 5)])
    await close()
  })
})
