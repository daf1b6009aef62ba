import { describe, expect, it } from 'vitest'
import {
  AuditLog,
  AuditProjection,
  CqrsPattern,
  createInMemoryJournal,
  defineAggregate,
  defineReader,
  EventCodecRegistry,
  ReaderFilter,
  silentLogger,
} from '../../src/index.ts'
import { account, accountMachine } from '../fixtures.ts'
import { accountBuilder } from './read-side-fixtures.ts'

// `deposited` went through three schemas: v1 { cents: string }, v2 { amount }, v3 { amount, currency }.
const ledger = defineAggregate({
  type: 'ledger',
  machine: accountMachine,
  eventVersions: { deposited: 3 },
  commands: {
    open: (cmd: { owner: string }) => ({ type: 'opened', owner: cmd.owner }),
    deposit: (cmd: { amount: number }) => ({ type: 'deposited', amount: cmd.amount, currency: 'EUR' }),
  },
})

const codecs = new EventCodecRegistry()
  .upcast('deposited', 1, (p) => ({ amount: Number((p as { cents: string }).cents) / 100 }))
  .upcast('deposited', 2, (p) => ({ ...(p as object), currency: 'EUR' }))

describe('EventCodecRegistry on both sides', () => {
  it('upcasts v1 and v2 events for readers and for write-side recovery', async () => {
    const journal = createInMemoryJournal()
    await journal.append([
      {
        persistenceId: 'ledger|legacy-x',
        expectedSeqNr: 0,
        events: [
          { type: 'opened', version: 1, payload: { owner: 'Old' }, tags: [], metadata: {} },
          { type: 'deposited', version: 1, payload: { cents: '700' }, tags: [], metadata: {} },
          { type: 'deposited', version: 2, payload: { amount: 3 }, tags: [], metadata: {} },
        ],
      },
    ])
    const builder = CqrsPattern.builder({ journal })
      .withAggregate(ledger)
      .eventCodecs(codecs)
      .logger(silentLogger)
    const deposits = builder.withReader(
      defineReader({
        name: 'deposits',
        initialState: [] as string[],
        apply: (list: string[], event, envelope) =>
          event.type === 'deposited'
            ? // `currency` comes from the upcaster, not from the chart's event type
              [...list, `v${envelope.version}:${event.amount}${(event as { currency?: string }).currency}`]
            : list,
      }),
    )
    const handles = await builder.build().materialize()
    // Recovery replays the legacy stream through the same upcasters: the balance includes 7 + 3.
    const result = await handles.repository(ledger).send('legacy-x', { type: 'deposit', amount: 10 })
    expect(handles.runtime.liveState('ledger|legacy-x')?.context).toEqual({ owner: 'Old', balance: 20 })
    expect(await deposits.waitForOffset(result.ordering)).toEqual(['v1:7EUR', 'v2:3EUR', 'v3:10EUR'])
    await handles.stop()
  })
})

describe('rebuildProjection', () => {
  it('replays to the same state while commands keep working', async () => {
    const builder = accountBuilder().eventCodecs(new EventCodecRegistry().registerDefault())
    let applies = 0
    const total = builder.withReader(
      defineReader({
        name: 'total',
        filter: ReaderFilter.tag('money'),
        initialState: 0,
        apply: (sum: number, event) => {
          applies++
          return sum + ('amount' in event ? event.amount : 0)
        },
      }),
    )
    const handles = await builder.build().materialize()
    const accounts = handles.repository(account)
    await accounts.send('r-1', { type: 'open', owner: 'Ada' })
    let last = 0
    for (const amount of [1, 2, 3, 4])
      last = (await accounts.send('r-1', { type: 'deposit', amount })).ordering
    expect(await total.waitForOffset(last)).toBe(10)
    expect(applies).toBe(4)

    const rebuilt = handles.rebuildProjection('total')
    const during = accounts.send('r-1', { type: 'deposit', amount: 5 })
    await rebuilt
    expect(total.state).toBeGreaterThanOrEqual(10)
    const fifth = await during
    expect(await total.waitForOffset(fifth.ordering)).toBe(15)
    // Every event applied again once by the rebuild, the new one once.
    expect(applies).toBe(9)
    expect(total.status.applied).toBe(5)
    await expect(handles.rebuildProjection('missing')).rejects.toMatchObject({ code: 'NOT_CONFIGURED' })
    await handles.stop()
  })

  it('clears a durable read model through reset and resets the stored offset', async () => {
    const table: number[] = []
    const builder = accountBuilder()
    const rows = builder.withReader(
      defineReader({
        name: 'rows',
        initialState: 0,
        loadState: () => table.length,
        reset: () => {
          table.length = 0
        },
        apply: (n: number, _e, envelope) => {
          table.push(envelope.ordering)
          return n + 1
        },
      }),
    )
    const handles = await builder.build().materialize()
    const accounts = handles.repository(account)
    await accounts.send('d-1', { type: 'open', owner: 'Ada' })
    const last = await accounts.send('d-1', { type: 'deposit', amount: 1 })
    await rows.waitForOffset(last.ordering)
    await handles.rebuildProjection('rows')
    expect(table).toEqual([1, 2])
    expect(rows.state).toBe(2)
    await handles.stop()
  })

  it('rejects with the halt error when the replay meets a poison event', async () => {
    const broken = { on: false }
    const builder = accountBuilder()
    const sums = builder.withReader(
      defineReader({
        name: 'sums',
        filter: ReaderFilter.tag('money'),
        initialState: 0,
        apply: (s: number, e) => {
          if (broken.on) throw new Error('now broken')
          return s + ('amount' in e ? e.amount : 0)
        },
      }),
    )
    const handles = await builder.build().materialize()
    const accounts = handles.repository(account)
    await accounts.send('b-1', { type: 'open', owner: 'Ada' })
    await sums.waitForOffset((await accounts.send('b-1', { type: 'deposit', amount: 1 })).ordering)
    broken.on = true
    await expect(handles.rebuildProjection('sums')).rejects.toThrow(
      /Reader "sums" halted at event 2 of "account\|b-1"/,
    )
    broken.on = false
    await handles.rebuildProjection('sums')
    expect(sums.state).toBe(1)
    await handles.stop()
  })
})

describe('AuditLog', () => {
  it('keeps a ring of the last N envelopes, with N taken from its constructor through the builder', async () => {
    const builder = accountBuilder()
    const audit = builder.withReader(new AuditLog({ capacity: 3 }))
    const handles = await builder.build().materialize()
    const accounts = handles.repository(account)
    await accounts.send('a-1', { type: 'open', owner: 'Ada' }, { metadata: { userId: 'u-1' } })
    let last = 0
    for (const amount of [1, 2, 3, 4])
      last = (await accounts.send('a-1', { type: 'deposit', amount })).ordering
    const ring = await audit.waitForOffset(last)
    expect(ring.capacity).toBe(3)
    expect(ring.size).toBe(3)
    expect(ring.total).toBe(5)
    expect(ring.recent(3).map((e) => e.seqNr)).toEqual([3, 4, 5])
    expect(ring.recent(1)[0]).toMatchObject({
      ordering: 5,
      persistenceId: 'account|a-1',
      seqNr: 5,
      type: 'deposited',
      version: 1,
      tags: ['money'],
      event: { type: 'deposited', amount: 4 },
    })
    expect(typeof ring.recent(1)[0]?.timestamp).toBe('number')
    expect(ring.recent(10)).toHaveLength(3)
    expect(
      builder
        .build()
        .describe()
        .readers.map((r) => r.name),
    ).toEqual(['audit'])
    await handles.stop()
  })

  it('records metadata and rejects a capacity below 1', () => {
    const ring = new AuditProjection(2)
    const log = new AuditLog({ capacity: 2, name: 'trail' })
    const envelope = {
      ordering: 1,
      persistenceId: 'p|1',
      seqNr: 1,
      type: 'opened',
      version: 1,
      payload: {},
      tags: [],
      metadata: { userId: 'u-9', correlationId: 'c-1' },
      timestamp: 42,
      writerId: 'w',
    }
    log.apply(ring, { type: 'opened' }, envelope)
    expect(ring.recent(1)[0]).toMatchObject({
      metadata: { userId: 'u-9', correlationId: 'c-1' },
      timestamp: 42,
    })
    expect(log.initialState).not.toBe(log.initialState)
    expect(new AuditLog().initialState.capacity).toBe(1024)
    expect(() => new AuditLog({ capacity: 0 })).toThrow(/at least 1, got 0/)
  })
})
