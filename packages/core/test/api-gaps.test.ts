import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  CqrsPattern,
  createInMemoryJournal,
  createInMemorySnapshotStore,
  defineReader,
  EventCodecRegistry,
  type EventEnvelope,
  type Journal,
  ReaderFilter,
  silentLogger,
} from '../src/index.ts'
import { account } from './fixtures.ts'

describe('events are typed from the registered aggregates', () => {
  it('types reader, listener and tap events, and accepts listeners that return a value', async () => {
    const journal = createInMemoryJournal()
    const seen: { type: string }[] = []
    const builder = CqrsPattern.builder({ journal })
      .withAggregate(account)
      .logger(silentLogger)
      .onEvent((e) => seen.push(e)) // returns a number: accepted
      .onEvent((event) => {
        expectTypeOf(event.type).toEqualTypeOf<'opened' | 'deposited' | 'withdrawn' | 'closed'>()
        if (event.type === 'deposited') expectTypeOf(event.amount).toEqualTypeOf<number>()
      })
      .withTap({
        name: 'typed',
        events: (envelope) => {
          if (envelope.type === 'opened') expectTypeOf(envelope.payload.owner).toEqualTypeOf<string>()
        },
      })
    const balance = builder.withReader({
      name: 'balance',
      initialState: 0,
      apply: (sum, event) => {
        expectTypeOf(sum).toEqualTypeOf<number>()
        if (event.type === 'deposited') return sum + event.amount
        if (event.type === 'withdrawn') return sum - event.amount
        return sum
      },
    })
    const handles = await builder.build().materialize()
    const accounts = handles.repository(account)
    await accounts.send('t', { type: 'open', owner: 'Ada' })
    const { ordering } = await accounts.send('t', { type: 'deposit', amount: 7 })
    expect(await balance.waitForOffset(ordering)).toBe(7)
    expect(seen.map((e) => e.type)).toEqual(['opened', 'deposited'])
    const state = await accounts.state('t')
    expectTypeOf(state.context.balance).toEqualTypeOf<number>()
    await handles.stop()
  })
})

describe('reading state and counts', () => {
  it('reads the current state, recovering a passivated aggregate, after the commands sent before it', async () => {
    const journal = createInMemoryJournal()
    const handles = await CqrsPattern.builder({ journal })
      .withAggregate(account)
      .logger(silentLogger)
      .build()
      .materialize()
    const accounts = handles.repository(account)
    void accounts.send('s', { type: 'open', owner: 'Ada' })
    void accounts.send('s', { type: 'deposit', amount: 3 })
    const state = await accounts.state('s') // queued behind both commands
    expect(state.value).toBe('open')
    expect(state.context.balance).toBe(3)
    expect(handles.runtime.passivateNow('account|s')).toBe(true)
    expect(accounts.isLive('s')).toBe(false)
    expect((await accounts.state('s')).context.balance).toBe(3)
    expect(accounts.isLive('s')).toBe(true)
    expect((await accounts.state('never-used')).value).toBe('pending')
    expect(handles.stats).toMatchObject({ live: 2, recovering: 0, recoveries: 3 })
    await handles.stop()
    await expect(accounts.state('s')).rejects.toMatchObject({ code: 'GATEWAY_STOPPED' })
  })
})

describe('recovery is visible', () => {
  it('reports events replayed and the snapshot used, in stats and in inspection events', async () => {
    const journal = createInMemoryJournal()
    const snapshotStore = createInMemorySnapshotStore()
    const inspected: { type: string }[] = []
    const start = () =>
      CqrsPattern.builder({ journal })
        .withAggregate(account)
        .logger(silentLogger)
        .snapshotStore(snapshotStore)
        .snapshotPolicy({ every: 3 })
        .build()
        .materialize({ inspect: () => {} })
        .then((h) => {
          h.gateway.on('@statesource.recovered', (e: { type: string }) => inspected.push(e))
          return h
        })
    let handles = await start()
    const accounts = () => handles.repository(account)
    await accounts().send('r', { type: 'open', owner: 'Ada' })
    for (let i = 0; i < 4; i++) await accounts().send('r', { type: 'deposit', amount: 1 })
    await handles.stop()
    // The snapshot policy saved at event 3: recovery restores it and replays events 4 and 5.
    handles = await start()
    await accounts().state('r')
    expect(handles.stats).toMatchObject({ recoveries: 1, recoveriesFromSnapshot: 1, eventsReplayed: 2 })
    const recovered = inspected.filter((e) => e.type === '@statesource.recovered').at(-1)
    expect(recovered).toMatchObject({
      persistenceId: 'account|r',
      seqNr: 5,
      eventsReplayed: 2,
      snapshotSeqNr: 3,
    })
    expect(typeof (recovered as unknown as { durationMs: number }).durationMs).toBe('number')
    await handles.stop()
  })
})

describe('the codec registry given to eventCodecs', () => {
  it('is used live: a decoder registered on it after materialize resumes a halted reader', async () => {
    const journal = createInMemoryJournal()
    await journal.append([
      {
        persistenceId: 'legacy|1',
        expectedSeqNr: 0,
        events: [{ type: 'imported', version: 1, payload: { n: 2 }, tags: [], metadata: {} }],
      },
    ])
    const codecs = new EventCodecRegistry()
    const builder = CqrsPattern.builder({ journal })
      .withAggregate(account)
      .logger(silentLogger)
      .eventCodecs(codecs)
    const imported = builder.withReader({ name: 'imported', initialState: 0, apply: (n) => n + 1 })
    const handles = await builder.build().materialize()
    expect(handles.codecs).toBe(codecs)
    await expect.poll(async () => (await handles.readerStatus())[0]?.phase).toBe('halted')
    codecs.register('imported', 1)
    await handles.rebuildProjection('imported')
    expect(imported.state).toBe(1)
    await handles.stop()
  })
})

describe('ReaderFilter stream filters', () => {
  it('take the aggregate and the bare id, like send, and still take a full persistence id', () => {
    expect(ReaderFilter.persistenceId(account, 'a-1')).toEqual({
      kind: 'persistence-id',
      persistenceId: 'account|a-1',
    })
    expect(ReaderFilter.persistenceId('account|a-1')).toEqual(ReaderFilter.persistenceId(account, 'a-1'))
    expect(ReaderFilter.persistenceIds(account, ['a-1', 'a-2'])).toEqual({
      kind: 'persistence-ids',
      persistenceIds: ['account|a-1', 'account|a-2'],
    })
    expect(() => ReaderFilter.persistenceId('account', 'a-1')).toThrow(/pass the aggregate and its id/)
  })
})

describe('a journal that can be read supplies its read journal', () => {
  it('is used by the builder when no read journal is set', async () => {
    const journal: Journal = createInMemoryJournal()
    const builder = CqrsPattern.builder({ journal }).withAggregate(account).logger(silentLogger)
    const count = builder.withReader({ name: 'count', initialState: 0, apply: (n) => n + 1 })
    const handles = await builder.build().materialize()
    const { ordering } = await handles.repository(account).send('x', { type: 'open', owner: 'A' })
    expect(await count.waitForOffset(ordering)).toBe(1)
    const envelopes: EventEnvelope[] = []
    journal
      .readJournal?.()
      .currentAllEvents(0)
      .subscribe((e) => envelopes.push(e))
    await handles.stop()
  })
})

describe('names that reach text columns', () => {
  it('refuses a reader name that is not well-formed Unicode', () => {
    expect(() => defineReader({ name: 'totals\uD800', initialState: 0, apply: (n: number) => n })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT', message: expect.stringContaining('The reader name') }),
    )
  })
})
