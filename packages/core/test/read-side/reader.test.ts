import { describe, expect, it } from 'vitest'
import {
  createInMemoryJournal,
  createInMemoryOffsetStore,
  defineReader,
  type EventEnvelope,
  isStatesourceError,
  ProjectionError,
  ReaderFilter,
  TimeoutError,
} from '../../src/index.ts'
import { account } from '../fixtures.ts'
import { accountBuilder, spyReadJournal } from './read-side-fixtures.ts'

interface Totals {
  readonly total: number
  readonly count: number
}

const totalsReader = (name = 'totals') =>
  defineReader({
    name,
    filter: ReaderFilter.tag('money'),
    initialState: { total: 0, count: 0 } as Totals,
    apply: (state: Totals, event) => {
      const amount = event.amount as number
      if (event.type === 'deposited') return { total: state.total + amount, count: state.count + 1 }
      if (event.type === 'withdrawn') return { total: state.total - amount, count: state.count + 1 }
      return state
    },
  })

describe('readers', () => {
  it('folds a tag into a projection and leaves rejected commands out', async () => {
    const builder = accountBuilder()
    const totals = builder.withReader(totalsReader())
    const handles = await builder.build().materialize()
    const accounts = handles.repository(account)
    await accounts.send('c-1', { type: 'open', owner: 'Ada' })
    await accounts.send('c-1', { type: 'deposit', amount: 5 })
    await accounts.send('c-1', { type: 'deposit', amount: 10 })
    await expect(accounts.send('c-1', { type: 'withdraw', amount: 100 })).rejects.toMatchObject({
      code: 'COMMAND_REJECTED',
    })
    const last = await accounts.send('c-1', { type: 'withdraw', amount: 3 })
    const state = await totals.waitForOffset(last.ordering)
    expect(state).toEqual({ total: 12, count: 3 })
    expect(totals.offset).toBe(last.ordering)
    await handles.stop()
  })

  it('sees only events of its tag, read through eventsByTag', async () => {
    const journal = createInMemoryJournal()
    const spy = spyReadJournal(journal.readJournal({ pollIntervalMs: 10 }))
    const builder = accountBuilder(journal).readJournal(spy.readJournal)
    const seen = builder.withReader(
      defineReader({
        name: 'money-types',
        filter: ReaderFilter.tag('money'),
        initialState: [] as string[],
        apply: (types: string[], event, envelope) => [...types, `${event.type}:${envelope.tags.join(',')}`],
      }),
    )
    const handles = await builder.build().materialize()
    const accounts = handles.repository(account)
    await accounts.send('t-1', { type: 'open', owner: 'Ada' })
    await accounts.send('t-1', { type: 'deposit', amount: 1 })
    await accounts.send('t-1', { type: 'withdraw', amount: 1 })
    const last = await accounts.send('t-1', { type: 'close' })
    expect(await seen.waitForOffset(last.ordering)).toEqual(['deposited:money', 'withdrawn:money'])
    expect(spy.calls).toContain('eventsByTag')
    expect(spy.calls.filter((c) => c === 'allEvents' || c.includes('PersistenceId'))).toEqual([])
    await handles.stop()
  })

  it('reads one stream or a fixed set of streams', async () => {
    const builder = accountBuilder()
    const reader = (name: string, filter: ReaderFilter) =>
      builder.withReader(
        defineReader({
          name,
          filter,
          initialState: [] as string[],
          apply: (s: string[], _e, env) => [...s, `${env.persistenceId}#${env.seqNr}`],
        }),
      )
    const one = reader('one', ReaderFilter.persistenceId('account|p-1'))
    const some = reader('some', ReaderFilter.persistenceIds(['account|p-1', 'account|p-3']))
    const handles = await builder.build().materialize()
    const accounts = handles.repository(account)
    for (const id of ['p-1', 'p-2', 'p-3']) await accounts.send(id, { type: 'open', owner: id })
    const last = await accounts.send('p-1', { type: 'deposit', amount: 2 })
    expect(await one.waitForOffset(last.ordering)).toEqual(['account|p-1#1', 'account|p-1#2'])
    expect(await some.waitForOffset(last.ordering)).toEqual([
      'account|p-1#1',
      'account|p-3#1',
      'account|p-1#2',
    ])
    await handles.stop()
  })

  it('gives apply the decoded event and its full envelope', async () => {
    const builder = accountBuilder()
    const envelopes = builder.withReader(
      defineReader({
        name: 'envelopes',
        initialState: [] as EventEnvelope[],
        apply: (list: EventEnvelope[], event, envelope) => {
          expect(event).toMatchObject({ type: envelope.type })
          return [...list, envelope]
        },
      }),
    )
    const handles = await builder.build().materialize()
    const result = await handles
      .repository(account)
      .send('e-1', { type: 'open', owner: 'Ada' }, { metadata: { correlationId: 'corr-1', userId: 'u-7' } })
    const [envelope] = await envelopes.waitForOffset(result.ordering)
    expect(envelope).toMatchObject({
      persistenceId: 'account|e-1',
      seqNr: 1,
      ordering: result.ordering,
      type: 'opened',
      tags: [],
      metadata: { correlationId: 'corr-1', userId: 'u-7' },
    })
    expect(typeof envelope?.timestamp).toBe('number')
    await handles.stop()
  })

  it('folds asynchronous applies in order', async () => {
    const builder = accountBuilder()
    const order = builder.withReader(
      defineReader({
        name: 'async',
        initialState: [] as number[],
        apply: async (list: number[], _event, envelope) => {
          await new Promise((resolve) => setTimeout(resolve, 1))
          return [...list, envelope.ordering]
        },
      }),
    )
    const handles = await builder.build().materialize()
    const accounts = handles.repository(account)
    await accounts.send('as-1', { type: 'open', owner: 'Ada' })
    const last = await accounts.send('as-1', { type: 'twice', amount: 1 })
    expect(await order.waitForOffset(last.ordering)).toEqual([1, 2, 3])
    await handles.stop()
  })
})

describe('ProjectionHandle', () => {
  it('emits the current state on subscribe to state$, then every change', async () => {
    const builder = accountBuilder()
    const count = builder.withReader(
      defineReader({ name: 'count', initialState: 0, apply: (n: number) => n + 1 }),
    )
    const handles = await builder.build().materialize()
    const accounts = handles.repository(account)
    await count.waitForOffset((await accounts.send('h-1', { type: 'open', owner: 'Ada' })).ordering)
    const values: number[] = []
    const sub = count.state$.subscribe((n) => values.push(n))
    expect(values).toEqual([1])
    await count.waitForOffset((await accounts.send('h-1', { type: 'deposit', amount: 1 })).ordering)
    expect(values).toEqual([1, 2])
    sub.unsubscribe()
    const doubled = count.select((n) => n * 2)
    expect(doubled.get()).toBe(4)
    const seen: number[] = []
    doubled.value$.subscribe((v) => seen.push(v))
    expect(seen).toEqual([4])
    await handles.stop()
  })

  it('resolves waitForOffset for an event outside a tag reader’s filter (read your own write)', async () => {
    const builder = accountBuilder()
    const totals = builder.withReader(totalsReader())
    const handles = await builder.build().materialize()
    const opened = await handles.repository(account).send('w-1', { type: 'open', owner: 'Ada' })
    // "opened" carries no tag: the reader never applies it, yet it has accounted for it.
    expect(await totals.waitForOffset(opened.ordering)).toEqual({ total: 0, count: 0 })
    expect(totals.offset).toBeGreaterThanOrEqual(opened.ordering)
    expect(totals.status.phase).toBe('caught-up')
    await handles.stop()
  })

  it('rejects waitForOffset with a TimeoutError naming the projection', async () => {
    const builder = accountBuilder()
    const count = builder.withReader(
      defineReader({ name: 'count', initialState: 0, apply: (n: number) => n + 1 }),
    )
    const handles = await builder.build().materialize()
    const error = await count.waitForOffset(99, { timeout: 20 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TimeoutError)
    expect((error as Error).message).toContain('projection "count"')
    await expect(count.waitForOffset(-1)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await handles.stop()
  })

  it('lists projections and their status on the handles', async () => {
    const builder = accountBuilder()
    builder.withReader(totalsReader('a'))
    builder.withReader(totalsReader('b'))
    const handles = await builder.build().materialize()
    expect(handles.projections.map((p) => p.name)).toEqual(['a', 'b'])
    const last = await handles.repository(account).send('s-1', { type: 'open', owner: 'Ada' })
    await handles.projection('a').waitForOffset(last.ordering)
    await handles.projection('b').waitForOffset(last.ordering)
    const status = await handles.readerStatus()
    expect(status.map((s) => [s.name, s.phase, s.lag])).toEqual([
      ['a', 'caught-up', 0],
      ['b', 'caught-up', 0],
    ])
    expect(() => handles.projection('nope')).toThrow(/No projection named "nope" \(registered: "a", "b"\)/)
    await handles.stop()
    expect(handles.projection('a').status.phase).toBe('stopped')
  })
})

describe('builder validation', () => {
  it('rejects two readers with the same name at build', () => {
    const builder = accountBuilder()
    builder.withReader(totalsReader('same'))
    builder.withReader(totalsReader('same'))
    expect(() => builder.build()).toThrow(
      expect.objectContaining({ code: 'NOT_CONFIGURED', message: expect.stringContaining('"same"') }),
    )
  })

  it('needs a read journal when there are readers', () => {
    const inner = createInMemoryJournal()
    const journal = {
      append: inner.append.bind(inner),
      replay: inner.replay.bind(inner),
      readForRecovery: inner.readForRecovery.bind(inner),
      highestSeqNr: inner.highestSeqNr.bind(inner),
      deleteTo: inner.deleteTo.bind(inner),
    }
    const builder = accountBuilder().logger({ warn: () => {}, error: () => {} })
    const bare = accountBuilder(inner)
    bare.settings.journal = journal
    bare.withReader(totalsReader())
    expect(() => bare.build()).toThrow(
      expect.objectContaining({ code: 'NOT_CONFIGURED', what: 'readJournal' }),
    )
    expect(() => builder.build()).not.toThrow()
  })

  it('rejects a malformed reader when it is defined', () => {
    expect(() => defineReader({ name: '', initialState: 0, apply: (n: number) => n })).toThrow(/no name/)
    expect(() =>
      defineReader({ name: 'x', filter: ReaderFilter.tag(''), initialState: 0, apply: (n: number) => n }),
    ).toThrow(/Reader "x" has an invalid filter/)
    expect(() =>
      defineReader({ name: 'x', errorPolicy: 'ignore' as 'skip', initialState: 0, apply: (n: number) => n }),
    ).toThrow(/error policy "ignore"/)
    expect(() =>
      defineReader({ name: 'x', checkpoint: { everyEvents: 0 }, initialState: 0, apply: (n: number) => n }),
    ).toThrow(/checkpoint.everyEvents/)
  })

  it('describes its readers', () => {
    const builder = accountBuilder().readerRetry(3, { fixedMs: 5 })
    builder.withReader({
      ...totalsReader(),
      errorPolicy: 'dead-letter',
      loadState: () => ({ total: 0, count: 0 }),
      checkpoint: { everyEvents: 10 },
    })
    expect(builder.build().describe().readers).toEqual([
      {
        name: 'totals',
        filter: { kind: 'tag', tag: 'money' },
        errorPolicy: 'dead-letter',
        retry: { maxAttempts: 3, schedule: { fixedMs: 5 } },
        checkpoint: { everyEvents: 10, everyMs: 1000 },
      },
    ])
  })
})

describe('durable offsets (at-least-once)', () => {
  it('resumes from the stored offset after a restart', async () => {
    const journal = createInMemoryJournal()
    const offsets = createInMemoryOffsetStore()
    // The read model outlives the process: here a list the test keeps, as a table would.
    const table: number[] = []
    const reader = defineReader({
      name: 'orderings',
      initialState: 0,
      loadState: () => table.length,
      checkpoint: { everyEvents: 1 },
      apply: (n: number, _event, envelope) => {
        table.push(envelope.ordering)
        return n + 1
      },
    })
    const run = async (ids: string[]) => {
      const builder = accountBuilder(journal).offsetStore(offsets)
      const handle = builder.withReader(reader)
      const handles = await builder.build().materialize()
      let last = 0
      for (const id of ids)
        last = (await handles.repository(account).send(id, { type: 'open', owner: id })).ordering
      await handle.waitForOffset(last)
      await handles.stop()
      return handle
    }
    await run(['r-1', 'r-2'])
    expect(await offsets.load('orderings')).toBe(2)
    const second = await run(['r-3'])
    expect(table).toEqual([1, 2, 3])
    expect(second.state).toBe(3)
    expect(second.status.applied).toBe(1)
  })

  it('starts a reader whose offset cannot be loaded halted, and runs everything else', async () => {
    const journal = createInMemoryJournal()
    const inner = createInMemoryOffsetStore()
    await inner.save('broken', 0)
    let diskOk = false
    const offsets = {
      load: (name: string) =>
        name === 'broken' && !diskOk ? Promise.reject(new Error('disk unreadable')) : inner.load(name),
      save: (name: string, ordering: number) => inner.save(name, ordering),
      reset: (name: string) => inner.reset(name),
    }
    const durable = (name: string) =>
      defineReader({ name, initialState: 0, loadState: () => 0, apply: (n: number) => n + 1 })
    const builder = accountBuilder(journal).offsetStore(offsets)
    const broken = builder.withReader(durable('broken'))
    const fine = builder.withReader(durable('fine'))
    const handles = await builder.build().materialize()
    try {
      expect(broken.status).toMatchObject({ phase: 'halted' })
      expect(broken.status.error?.message).toBe(
        'Reader "broken" could not load its offset or state at start: disk unreadable. It is halted; the other readers and the write side run on. Fix the cause, then call resume() on its handle.',
      )
      const sent = await handles.repository(account).send('h-1', { type: 'open', owner: 'Ada' })
      expect(await fine.waitForOffset(sent.ordering)).toBe(1)
      expect(await inner.load('broken')).toBe(0) // nothing was saved over the offset it could not read
      diskOk = true
      await broken.resume()
      expect(await broken.waitForOffset(sent.ordering)).toBe(1)
    } finally {
      await handles.stop()
    }
  })

  it('replays an in-memory projection from the start at every start', async () => {
    const journal = createInMemoryJournal()
    const offsets = createInMemoryOffsetStore()
    await offsets.save('count', 50)
    const builder = accountBuilder(journal).offsetStore(offsets)
    const count = builder.withReader(
      defineReader({ name: 'count', initialState: 0, apply: (n: number) => n + 1 }),
    )
    const handles = await builder.build().materialize()
    const last = await handles.repository(account).send('m-1', { type: 'open', owner: 'Ada' })
    expect(await count.waitForOffset(last.ordering)).toBe(1)
    await handles.stop()
    expect(isStatesourceError(new ProjectionError('x', undefined, 'm'), 'PROJECTION_FAILED')).toBe(true)
  })
})
