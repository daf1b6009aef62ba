import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  CqrsPattern,
  createDurableScheduler,
  createInMemoryJournal,
  createInMemoryScheduleStore,
  type InMemoryJournal,
  type Logger,
  type ScheduleStore,
} from '../../src/index.ts'
import { account } from '../fixtures.ts'

beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }))
afterEach(() => void vi.useRealTimers())

function collectingLogger() {
  const warnings: string[] = []
  const logger: Logger = { warn: (m) => void warnings.push(m), error: () => {} }
  return { logger, warnings }
}

/** One "process": a gateway over a journal that outlives it, and a scheduler over a store that does too. */
async function boot(journal: InMemoryJournal, store: ScheduleStore, logger?: Logger) {
  const builder = CqrsPattern.builder({ journal }).withAggregate(account)
  if (logger) builder.logger(logger)
  const handles = await builder.build().materialize()
  const scheduler = createDurableScheduler({ store, handles })
  return { handles, scheduler, accounts: handles.repository(account) }
}

describe('createDurableScheduler', () => {
  it('stores a pending command, fires it once when due and marks it fired', async () => {
    const journal = createInMemoryJournal()
    const store = createInMemoryScheduleStore()
    const app = await boot(journal, store)
    await app.scheduler.start()
    await app.accounts.send('a', { type: 'open', owner: 'Ada' })
    const handle = await app.scheduler.schedule(
      app.accounts,
      'a',
      { type: 'deposit', amount: 5 },
      { delay: 1_000 },
      {
        scheduleId: 's-1',
        metadata: { reason: 'interest' },
      },
    )
    expect((await store.pending()).map((s) => [s.id, s.status, s.dueAt - Date.now()])).toEqual([
      ['s-1', 'pending', 1_000],
    ])
    await vi.advanceTimersByTimeAsync(1_000)
    expect((await handle.done).status).toBe('sent')
    expect(await store.get('s-1')).toMatchObject({ status: 'fired', settledAt: Date.now() })
    const [, deposit] = await journal.replay('account|a')
    expect(deposit!.metadata).toMatchObject({ commandId: 's-1', scheduleId: 's-1', reason: 'interest' })
    await app.handles.stop()
  })

  it('runs a schedule once when two schedulers fire it, and reports both as sent', async () => {
    const journal = createInMemoryJournal()
    const store = createInMemoryScheduleStore()
    const errors: string[] = []
    const { logger } = collectingLogger()
    const one = await boot(journal, store, logger)
    const two = await boot(journal, store, logger)
    await one.accounts.send('a', { type: 'open', owner: 'Ada' })
    await two.accounts.send('a', { type: 'noop' }) // both processes now hold "account|a" at version 1
    await store.add({
      id: 's-1',
      aggregateType: 'account',
      aggregateId: 'a',
      command: { type: 'deposit', amount: 5 },
      dueAt: Date.now() - 1,
      commandId: 's-1',
      metadata: {},
      createdAt: Date.now() - 1_000,
      status: 'pending',
    })
    const schedulers = [one, two].map(({ handles }) =>
      createDurableScheduler({ store, handles, onError: (error) => void errors.push(error.message) }),
    )
    // Both load the schedule before either fires it: the one that appends second meets a conflict.
    const starts = await Promise.all(schedulers.map((scheduler) => scheduler.start()))
    expect(starts.map((s) => s.fired)).toEqual([1, 1])
    expect(errors).toEqual([])
    expect((await journal.replay('account|a')).map((e) => e.type)).toEqual(['opened', 'deposited'])
    expect(await store.get('s-1')).toMatchObject({ status: 'fired' })
    await one.handles.stop()
    await two.handles.stop()
  })

  it('re-arms pending commands after a restart and fires overdue ones at start-up', async () => {
    const journal = createInMemoryJournal()
    const store = createInMemoryScheduleStore()
    const first = await boot(journal, store)
    await first.scheduler.start()
    await first.accounts.send('a', { type: 'open', owner: 'Ada' })
    await first.scheduler.schedule(
      first.accounts,
      'a',
      { type: 'deposit', amount: 1 },
      { delay: 1_000 },
      { scheduleId: 'soon' },
    )
    await first.scheduler.schedule(
      first.accounts,
      'a',
      { type: 'deposit', amount: 2 },
      { delay: 60_000 },
      { scheduleId: 'later' },
    )
    await first.handles.stop() // the "process" ends before either fires
    await vi.advanceTimersByTimeAsync(5_000)
    expect(await journal.highestSeqNr('account|a')).toBe(1)

    const second = await boot(journal, store)
    expect(await second.scheduler.start()).toEqual({ rearmed: 1, fired: 1 })
    expect((await journal.replay('account|a')).map((e) => e.payload)).toEqual([
      { owner: 'Ada' },
      { amount: 1 },
    ])
    const later = second.scheduler.handle('later')
    expect(later?.dueAt).toBe((await store.get('later'))!.dueAt)
    await vi.advanceTimersByTimeAsync(55_000)
    expect((await later!.done).status).toBe('sent')
    expect(second.scheduler.handle('later')).toBeUndefined() // settled handles are let go
    expect((await store.pending()).length).toBe(0)
    expect(await journal.highestSeqNr('account|a')).toBe(3)
    await second.handles.stop()
  })

  it('fires exactly once when the process died between the send and marking it fired', async () => {
    const journal = createInMemoryJournal()
    const inner = createInMemoryScheduleStore()
    let crashOnSettle = true
    const flaky: ScheduleStore = {
      add: (s) => inner.add(s),
      pending: () => inner.pending(),
      get: (id) => inner.get(id),
      purge: (before) => inner.purge(before),
      settle: async (id, settlement) => {
        if (crashOnSettle && settlement.status === 'fired') throw new Error('disk gone')
        return inner.settle(id, settlement)
      },
    }
    const { logger, warnings } = collectingLogger()
    const first = await boot(journal, flaky, logger)
    await first.accounts.send('a', { type: 'open', owner: 'Ada' })
    const handle = await first.scheduler.schedule(
      first.accounts,
      'a',
      { type: 'deposit', amount: 9 },
      { delay: 10 },
      { scheduleId: 'once' },
    )
    await vi.advanceTimersByTimeAsync(10)
    expect((await handle.done).status).toBe('sent')
    expect(warnings).toContain(
      'Schedule "once" could not be marked fired: disk gone. It stays pending and fires again at the next start; its command id makes that harmless.',
    )
    expect((await inner.get('once'))?.status).toBe('pending')
    await first.handles.stop()

    crashOnSettle = false
    const second = await boot(journal, flaky)
    expect(await second.scheduler.start()).toEqual({ rearmed: 0, fired: 1 })
    expect((await inner.get('once'))?.status).toBe('fired')
    expect((await journal.replay('account|a')).map((e) => e.type)).toEqual(['opened', 'deposited'])
    await second.handles.stop()
  })

  it('cancels in memory and in the store, so a restart does not fire it', async () => {
    const journal = createInMemoryJournal()
    const store = createInMemoryScheduleStore()
    const first = await boot(journal, store)
    await first.accounts.send('a', { type: 'open', owner: 'Ada' })
    const handle = await first.scheduler.schedule(first.accounts, 'a', { type: 'close' }, { delay: 1_000 })
    expect(await handle.cancel()).toBe(true)
    expect(await handle.cancel()).toBe(false)
    expect(await handle.done).toEqual({ status: 'cancelled' })
    expect((await store.get(handle.id))?.status).toBe('cancelled')
    await first.handles.stop()
    await vi.advanceTimersByTimeAsync(2_000)
    const second = await boot(journal, store)
    expect(await second.scheduler.start()).toEqual({ rearmed: 0, fired: 0 })
    expect(await journal.highestSeqNr('account|a')).toBe(1)
    await second.handles.stop()
  })

  it('marks a rejected command failed and reports it through the logger and onError', async () => {
    const journal = createInMemoryJournal()
    const store = createInMemoryScheduleStore()
    const { logger, warnings } = collectingLogger()
    const errors: string[] = []
    const handles = await CqrsPattern.builder({ journal }).withAggregate(account).build().materialize()
    const scheduler = createDurableScheduler({
      store,
      handles,
      logger,
      onError: (e, info) => void errors.push(`${info.id}: ${e.message}`),
    })
    const accounts = handles.repository(account)
    await accounts.send('a', { type: 'open', owner: 'Ada' })
    const handle = await scheduler.schedule(
      accounts,
      'a',
      { type: 'withdraw', amount: 1 },
      { delay: 5 },
      { scheduleId: 'w' },
    )
    await vi.advanceTimersByTimeAsync(5)
    expect((await handle.done).status).toBe('failed')
    const reason = 'Command "withdraw" for "account|a" was rejected by decide: insufficient funds'
    expect(await store.get('w')).toMatchObject({ status: 'failed', error: reason })
    expect(warnings).toEqual([
      `Scheduled command "withdraw" for "account" "a" (schedule "w") failed: ${reason}`,
    ])
    expect(errors).toEqual([`w: ${reason}`])
    await handles.stop()
  })

  it('refuses a command JSON cannot store, and a reused schedule id', async () => {
    const journal = createInMemoryJournal()
    const store = createInMemoryScheduleStore()
    const app = await boot(journal, store)
    await expect(
      app.scheduler.schedule(app.accounts, 'a', { type: 'deposit', amount: Number.NaN }, { delay: 5 }),
    ).rejects.toMatchObject({ code: 'SERIALIZATION_FAILED' })
    await app.scheduler.schedule(
      app.accounts,
      'a',
      { type: 'deposit', amount: 1 },
      { delay: 5 },
      { scheduleId: 'dup' },
    )
    await expect(
      app.scheduler.schedule(
        app.accounts,
        'a',
        { type: 'deposit', amount: 1 },
        { delay: 5 },
        { scheduleId: 'dup' },
      ),
    ).rejects.toThrow(
      'A schedule with id "dup" already exists. Use a new schedule id, or cancel the old one first.',
    )
    expect((await store.pending()).length).toBe(1)
    await app.handles.stop()
  })
})
