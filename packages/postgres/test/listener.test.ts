import { appendRequest, newEvent } from '@statesource/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { openPostgres, type StatesourcePostgres } from '../src/index.ts'
import { adminQuery, openFresh, pgUrl } from './pg-test-server.ts'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 10))
}

describe('LISTEN/NOTIFY wake-up', () => {
  it('wakes a reader of another process on commit, without waiting for its poll', async () => {
    const { pg: writer, schema, dispose } = await openFresh()
    cleanups.push(dispose)
    const reader = await openPostgres(pgUrl(), { schema })
    cleanups.push(() => reader.close())
    // An hour between polls: only the notification can deliver the event.
    const seen: number[] = []
    const subscription = reader
      .readJournal({ pollIntervalMs: 3_600_000 })
      .allEvents()
      .subscribe((e) => seen.push(e.ordering))
    cleanups.push(async () => subscription.unsubscribe())
    await until(() => reader.listenerStats?.listening === true)
    await writer.journal.append([appendRequest('a', [newEvent('x')])])
    await until(() => seen.length === 1)
    expect(seen).toEqual([1])
    expect(reader.listenerStats!.notifications).toBeGreaterThanOrEqual(1)
  })

  it('reconnects after its backend is killed, drains what was committed meanwhile, and keeps waking readers', async () => {
    const { pg: writer, schema, dispose } = await openFresh()
    cleanups.push(dispose)
    // Reconnects after 500 ms, so the append below commits while nothing listens.
    const reader: StatesourcePostgres = await openPostgres(pgUrl(), { schema, listenReconnectMs: 500 })
    cleanups.push(() => reader.close())
    const seen: number[] = []
    const subscription = reader
      .readJournal({ pollIntervalMs: 3_600_000 })
      .allEvents()
      .subscribe((e) => seen.push(e.ordering))
    cleanups.push(async () => subscription.unsubscribe())
    await until(() => reader.listenerStats?.listening === true)
    const pid = reader.listenerStats!.backendPid
    expect(pid).toBeTypeOf('number')

    await adminQuery('SELECT pg_terminate_backend($1)', [pid])
    await until(() => reader.listenerStats!.listening === false)
    // Committed while the listener is down: no notification reaches it.
    await writer.journal.append([appendRequest('a', [newEvent('while-down')])])
    // It reconnects on its own (a new backend), and the reconnect drains the event.
    await until(() => reader.listenerStats!.connects >= 2)
    expect(reader.listenerStats!.backendPid).not.toBe(pid)
    await until(() => seen.length === 1)
    // Notifications flow again.
    await writer.journal.append([appendRequest('b', [newEvent('after')])])
    await until(() => seen.length === 2)
    expect(seen).toEqual([1, 2])
  })

  it('polls when the listener is turned off', async () => {
    const { pg: writer, schema, dispose } = await openFresh()
    cleanups.push(dispose)
    const reader = await openPostgres(pgUrl(), { schema, listen: false })
    cleanups.push(() => reader.close())
    expect(reader.listenerStats).toBeUndefined()
    const seen: number[] = []
    const subscription = reader
      .readJournal({ pollIntervalMs: 20 })
      .allEvents()
      .subscribe((e) => seen.push(e.ordering))
    cleanups.push(async () => subscription.unsubscribe())
    await writer.journal.append([appendRequest('a', [newEvent('x')])])
    await until(() => seen.length === 1)
    expect(seen).toEqual([1])
  })
})
