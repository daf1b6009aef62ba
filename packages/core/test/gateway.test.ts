import { afterEach, describe, expect, it } from 'vitest'
import { type AnyActorRef, assign, createActor, setup, spawnChild } from 'xstate'
import {
  type CqrsHandles,
  CqrsPattern,
  createInMemoryJournal,
  createInMemorySnapshotStore,
  createRepository,
  defineAggregate,
  EventCodecRegistry,
  isStatesourceError,
  type Journal,
  silentLogger,
} from '../src/index.ts'
import { account, accountCommands } from './fixtures.ts'

const running: CqrsHandles[] = []
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop()
})

async function start(
  configure: (b: ReturnType<typeof CqrsPattern.builder>) => unknown = () => {},
  journal: Journal = createInMemoryJournal(),
) {
  const builder = CqrsPattern.builder({ journal }).withAggregate(account).logger(silentLogger)
  configure(builder)
  const handles = await builder.build().materialize()
  running.push(handles)
  return { handles, accounts: handles.repository(account), journal }
}

const countingCodecs = () => {
  const counts = { decoded: 0 }
  const registry = new EventCodecRegistry()
  for (const type of ['opened', 'deposited', 'withdrawn', 'closed']) {
    registry.register(type, 1, (payload, envelope) => {
      counts.decoded++
      return { ...(payload as object), type: envelope.type }
    })
  }
  return { registry, counts }
}

describe('gateway and repository', () => {
  it('persists accepted commands and writes nothing for rejected ones', async () => {
    const { accounts, journal } = await start()
    await accounts.send('c', { type: 'open', owner: 'Ada' })
    const five = await accounts.send('c', { type: 'deposit', amount: 5 })
    const ten = await accounts.send('c', { type: 'deposit', amount: 10 })
    await expect(accounts.send('c', { type: 'withdraw', amount: 100 })).rejects.toMatchObject({
      code: 'COMMAND_REJECTED',
      reason: 'insufficient funds',
    })
    const three = await accounts.send('c', { type: 'withdraw', amount: 3 })
    expect([five.version, ten.version, three.version]).toEqual([2, 3, 4])
    expect(three.ordering).toBeGreaterThan(ten.ordering)
    expect(three.events[0]).toMatchObject({
      type: 'withdrawn',
      payload: { amount: 3 },
      tags: ['money'],
      seqNr: 4,
    })
    const stored = await journal.replay('account|c')
    expect(stored.map((e) => e.type)).toEqual(['opened', 'deposited', 'deposited', 'withdrawn'])
  })

  it('fails build without an aggregate and validates every option', () => {
    const journal = createInMemoryJournal()
    expect(() => CqrsPattern.builder({ journal }).build()).toThrow(
      expect.objectContaining({ code: 'NOT_CONFIGURED', what: 'aggregate' }),
    )
    expect(() => CqrsPattern.builder({ journal }).withAggregate(account).recoveryPermits(0).build()).toThrow(
      'recoveryPermits must be an integer of at least 1, got 0.',
    )
    expect(() =>
      CqrsPattern.builder({ journal }).withAggregate(account).withAggregate(account).build(),
    ).toThrow(/registered twice/)
    expect(() =>
      CqrsPattern.builder({ journal }).withAggregate(account).snapshotPolicy({ every: 5 }).build(),
    ).toThrow(/no snapshot store/)
    expect(() =>
      CqrsPattern.builder({ journal: undefined as never })
        .withAggregate(account)
        .build(),
    ).toThrow(/No journal/)
  })

  it('describes the topology as plain data', () => {
    const topology = CqrsPattern.builder({ journal: createInMemoryJournal(), name: 'bank' })
      .withAggregate(account)
      .snapshotStore(createInMemorySnapshotStore())
      .passivation({ maxLive: 10 })
      .onCommand(function audit() {})
      .build()
    const description = topology.describe()
    expect(JSON.parse(JSON.stringify(description))).toEqual(description)
    expect(description).toMatchObject({
      name: 'bank',
      aggregates: [
        { type: 'account', machineId: 'account', commands: expect.arrayContaining(['open', 'deposit']) },
      ],
      snapshots: { policy: { every: 100 }, keepLast: 1 },
      passivation: { maxLive: 10, idleTimeoutMs: 600_000 },
      interceptors: ['audit'],
      recoveryPermits: 8,
    })
  })

  it('recovers from the latest snapshot and replays only the tail', async () => {
    const journal = createInMemoryJournal()
    const snapshots = createInMemorySnapshotStore()
    const first = countingCodecs()
    const run1 = await start(
      (b) => b.snapshotStore(snapshots).snapshotPolicy({ every: 10 }).eventCodecs(first.registry),
      journal,
    )
    await run1.accounts.send('s', { type: 'open', owner: 'A' })
    for (let i = 0; i < 24; i++) await run1.accounts.send('s', { type: 'deposit', amount: 1 })
    expect(first.counts.decoded).toBe(0) // a fresh aggregate needs no replay
    await run1.handles.stop()
    expect((await snapshots.load('account|s'))?.seqNr).toBe(20)

    const second = countingCodecs()
    const run2 = await start(
      (b) => b.snapshotStore(snapshots).snapshotPolicy({ every: 10 }).eventCodecs(second.registry),
      journal,
    )
    const result = await run2.accounts.send('s', { type: 'deposit', amount: 1 })
    expect(second.counts.decoded).toBe(5) // events 21–25
    expect(result.version).toBe(26)
    expect(run2.handles.runtime.liveState('account|s')?.context.balance).toBe(25)
  })

  it('replays everything without a snapshot store', async () => {
    const journal = createInMemoryJournal()
    const run1 = await start(() => {}, journal)
    await run1.accounts.send('f', { type: 'open', owner: 'A' })
    for (let i = 0; i < 9; i++) await run1.accounts.send('f', { type: 'deposit', amount: 1 })
    await run1.handles.stop()
    const codecs = countingCodecs()
    const run2 = await start((b) => b.eventCodecs(codecs.registry), journal)
    await run2.accounts.send('f', { type: 'deposit', amount: 1 })
    expect(codecs.counts.decoded).toBe(10)
  })

  it('discards a snapshot written by another machine version', async () => {
    const journal = createInMemoryJournal()
    const snapshots = createInMemorySnapshotStore()
    const run1 = await start((b) => b.snapshotStore(snapshots).snapshotPolicy({ every: 2 }), journal)
    await run1.accounts.send('v', { type: 'open', owner: 'A' })
    await run1.accounts.send('v', { type: 'deposit', amount: 7 })
    await run1.handles.stop()
    const v2 = defineAggregate({
      version: 2,
      type: 'account',
      machine: account.machine,
      commands: accountCommands,
    })
    const codecs = countingCodecs()
    const handles = await CqrsPattern.builder({ journal })
      .withAggregate(v2)
      .snapshotStore(snapshots)
      .eventCodecs(codecs.registry)
      .logger(silentLogger)
      .build()
      .materialize()
    running.push(handles)
    await handles.repository(v2).send('v', { type: 'deposit', amount: 1 })
    expect(codecs.counts.decoded).toBe(2)
    expect(handles.runtime.liveState('account|v')?.context.balance).toBe(8)
  })

  it('returns the first result for a retried command id and refuses another payload under it', async () => {
    const { accounts, journal } = await start()
    await accounts.send('d', { type: 'open', owner: 'A' })
    const first = await accounts.send('d', { type: 'deposit', amount: 5 }, { commandId: 'c-1' })
    const retry = await accounts.send('d', { type: 'deposit', amount: 5 }, { commandId: 'c-1' })
    expect(retry.duplicate).toBe(true)
    expect(retry.events).toEqual(first.events)
    expect(retry.ordering).toBe(first.ordering)
    await expect(
      accounts.send('d', { type: 'deposit', amount: 999 }, { commandId: 'c-1' }),
    ).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
    })
    await accounts.send('d', { type: 'deposit', amount: 7 }, { commandId: 'c-2' })
    expect((await journal.replay('account|d')).map((e) => e.payload)).toEqual([
      { owner: 'A' },
      { amount: 5 },
      { amount: 7 },
    ])
  })

  it('keeps idempotency across restarts through event metadata', async () => {
    const journal = createInMemoryJournal()
    const run1 = await start(() => {}, journal)
    await run1.accounts.send('r', { type: 'open', owner: 'A' })
    const first = await run1.accounts.send('r', { type: 'twice', amount: 2 }, { commandId: 'k' })
    await run1.handles.stop()
    const run2 = await start(() => {}, journal)
    const retry = await run2.accounts.send('r', { type: 'twice', amount: 2 }, { commandId: 'k' })
    expect(retry.duplicate).toBe(true)
    expect(retry.events.map((e) => e.seqNr)).toEqual(first.events.map((e) => e.seqNr))
    await expect(
      run2.accounts.send('r', { type: 'twice', amount: 3 }, { commandId: 'k' }),
    ).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
    })
    expect(await journal.highestSeqNr('account|r')).toBe(3)
  })

  it('checks the expected version', async () => {
    const { accounts } = await start()
    expect((await accounts.send('o', { type: 'open', owner: 'A' }, { expectedVersion: 0 })).version).toBe(1)
    await expect(
      accounts.send('o', { type: 'deposit', amount: 1 }, { expectedVersion: 0 }),
    ).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
      expected: 0,
      actual: 1,
      message: '"account|o" is at version 1, expected 0. Reload the aggregate and retry the command.',
    })
    expect((await accounts.send('o', { type: 'deposit', amount: 1 }, { expectedVersion: 1 })).version).toBe(2)
    expect((await accounts.send('o', { type: 'deposit', amount: 1 })).version).toBe(3)
  })

  it('handles commands for one id one at a time in arrival order, different ids concurrently', async () => {
    const { accounts, journal } = await start()
    const ids = Array.from({ length: 50 }, (_, i) => `fifo-${i}`)
    await Promise.all(ids.map((id) => accounts.send(id, { type: 'open', owner: id })))
    const sends: Promise<unknown>[] = []
    for (let round = 1; round <= 4; round++)
      for (const id of ids) sends.push(accounts.send(id, { type: 'deposit', amount: round }))
    await Promise.all(sends)
    for (const id of ids) {
      const amounts = (await journal.replay(`account|${id}`))
        .slice(1)
        .map((e) => (e.payload as { amount: number }).amount)
      expect(amounts).toEqual([1, 2, 3, 4])
    }
  })

  it('serves commands that arrive during recovery in order, and bounds recoveries by permits', async () => {
    const journal = createInMemoryJournal()
    let concurrent = 0
    let maxConcurrent = 0
    const slow: Journal = {
      append: (r) => journal.append(r),
      highestSeqNr: (p) => journal.highestSeqNr(p),
      deleteTo: (p, s) => journal.deleteTo(p, s),
      replay: (p, o) => journal.replay(p, o),
      async readForRecovery(pid, options) {
        concurrent++
        maxConcurrent = Math.max(maxConcurrent, concurrent)
        await new Promise((r) => setTimeout(r, 5))
        concurrent--
        return journal.readForRecovery(pid, options)
      },
    }
    const { accounts } = await start((b) => b.recoveryPermits(2), slow)
    const results = await Promise.all([
      accounts.send('q', { type: 'open', owner: 'A' }),
      accounts.send('q', { type: 'deposit', amount: 1 }),
      accounts.send('q', { type: 'deposit', amount: 2 }),
      ...Array.from({ length: 8 }, (_, i) => accounts.send(`p-${i}`, { type: 'open', owner: 'B' })),
    ])
    expect(results.slice(0, 3).map((r) => r.version)).toEqual([1, 2, 3])
    expect(maxConcurrent).toBe(2)
  })

  it('drops the aggregate and answers with a conflict when another writer got there first', async () => {
    const { accounts, journal } = await start()
    await accounts.send('w', { type: 'open', owner: 'A' })
    // Another process appends behind this gateway's back.
    await journal.append([
      {
        persistenceId: 'account|w',
        expectedSeqNr: 1,
        events: [{ type: 'deposited', version: 1, payload: { amount: 50 }, tags: [], metadata: {} }],
      },
    ])
    await expect(accounts.send('w', { type: 'deposit', amount: 1 })).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
      expected: 1,
      actual: 2,
    })
    // Recovered afresh from the journal: memory never stays ahead of (or behind) the journal.
    const next = await accounts.send('w', { type: 'withdraw', amount: 50 })
    expect(next.version).toBe(3)
  })

  it('drops the aggregate on a journal failure and recovers on the next command', async () => {
    const journal = createInMemoryJournal()
    let failNext = false
    const flaky: Journal = {
      replay: (p, o) => journal.replay(p, o),
      readForRecovery: (p, o) => journal.readForRecovery(p, o),
      highestSeqNr: (p) => journal.highestSeqNr(p),
      deleteTo: (p, s) => journal.deleteTo(p, s),
      async append(requests) {
        if (failNext) {
          failNext = false
          throw new Error('disk full')
        }
        return journal.append(requests)
      },
    }
    const { accounts, handles } = await start(() => {}, flaky)
    await accounts.send('j', { type: 'open', owner: 'A' })
    failNext = true
    await expect(accounts.send('j', { type: 'deposit', amount: 1 })).rejects.toMatchObject({
      code: 'JOURNAL_FAILURE',
      message: expect.stringContaining('disk full'),
    })
    expect(handles.runtime.isLive('account|j')).toBe(false)
    expect((await accounts.send('j', { type: 'deposit', amount: 2 })).version).toBe(2)
    expect(handles.runtime.liveState('account|j')?.context.balance).toBe(2)
  })

  it('answers an unserializable payload with a typed error and keeps serving the aggregate', async () => {
    const bigint = defineAggregate({
      type: 'big',
      machine: setup({ types: { events: {} as { type: 'set'; n: unknown } } }).createMachine({
        on: { set: { actions: () => {} } },
      }),
      commands: { set: (cmd: { n: unknown }) => ({ type: 'set', n: cmd.n }) },
    })
    const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(bigint)
      .logger(silentLogger)
      .build()
      .materialize()
    running.push(handles)
    const repo = handles.repository(bigint)
    await expect(repo.send('x', { type: 'set', n: 10n })).rejects.toMatchObject({
      code: 'SERIALIZATION_FAILED',
    })
    expect((await repo.send('x', { type: 'set', n: 1 })).version).toBe(1)
  })

  it('fails recovery loudly when a stored event is not accepted by the chart', async () => {
    const journal = createInMemoryJournal()
    await journal.append([
      {
        persistenceId: 'account|broken',
        expectedSeqNr: 0,
        events: [{ type: 'deposited', version: 1, payload: { amount: 1 }, tags: [], metadata: {} }],
      },
    ])
    const { accounts } = await start(() => {}, journal)
    const error = await accounts.send('broken', { type: 'open', owner: 'A' }).catch((e) => e)
    expect(isStatesourceError(error, 'RECOVERY_FAILED')).toBe(true)
    expect(error.message).toContain('Stored event 1 ("deposited") of "account|broken" is not accepted')
    expect(await journal.highestSeqNr('account|broken')).toBe(1)
    // Others keep being served.
    expect((await accounts.send('fine', { type: 'open', owner: 'A' })).version).toBe(1)
  })

  it('refuses to recover from a history whose first events were deleted without a covering snapshot', async () => {
    const journal = createInMemoryJournal()
    const run1 = await start(() => {}, journal)
    await run1.accounts.send('del', { type: 'open', owner: 'A' })
    await run1.accounts.send('del', { type: 'deposit', amount: 5 })
    await run1.handles.stop()
    await journal.deleteTo('account|del', 1)
    const run2 = await start(() => {}, journal)
    await expect(run2.accounts.send('del', { type: 'deposit', amount: 1 })).rejects.toMatchObject({
      code: 'RECOVERY_FAILED',
      message: expect.stringContaining(
        'Events 1..1 of "account|del" were deleted and no snapshot covers them',
      ),
    })
    await journal.deleteTo('account|del', 2)
    await expect(run2.accounts.send('del', { type: 'deposit', amount: 1 })).rejects.toMatchObject({
      message: expect.stringContaining('Events 1..2 of "account|del" were deleted'),
    })
    expect(await journal.highestSeqNr('account|del')).toBe(2)
  })

  it('recovers from a snapshot after the events it covers were deleted', async () => {
    const journal = createInMemoryJournal()
    const snapshots = createInMemorySnapshotStore()
    const run1 = await start((b) => b.snapshotStore(snapshots).snapshotPolicy({ every: 2 }), journal)
    await run1.accounts.send('kept', { type: 'open', owner: 'A' })
    await run1.accounts.send('kept', { type: 'deposit', amount: 5 })
    await run1.handles.stop()
    await journal.deleteTo('account|kept', 2)
    const run2 = await start((b) => b.snapshotStore(snapshots), journal)
    expect((await run2.accounts.send('kept', { type: 'deposit', amount: 1 })).version).toBe(3)
    expect(run2.handles.runtime.liveState('account|kept')?.context.balance).toBe(6)
  })

  it('upcasts old event versions during write-side recovery', async () => {
    const journal = createInMemoryJournal()
    await journal.append([
      {
        persistenceId: 'account|old',
        expectedSeqNr: 0,
        events: [
          { type: 'opened', version: 1, payload: { owner: 'A' }, tags: [], metadata: {} },
          { type: 'deposited', version: 1, payload: { cents: '250' }, tags: [], metadata: {} },
        ],
      },
    ])
    const v2 = defineAggregate({
      type: 'account',
      machine: account.machine,
      commands: accountCommands,
      eventVersions: { deposited: 2 },
    })
    const codecs = new EventCodecRegistry().upcast('deposited', 1, (p) => ({
      amount: Number((p as { cents: string }).cents) / 100,
    }))
    const handles = await CqrsPattern.builder({ journal })
      .withAggregate(v2)
      .eventCodecs(codecs)
      .logger(silentLogger)
      .build()
      .materialize()
    running.push(handles)
    const result = await handles.repository(v2).send('old', { type: 'deposit', amount: 1 })
    expect(result.events[0]?.version).toBe(2)
    expect(handles.runtime.liveState('account|old')?.context.balance).toBe(3.5)
  })

  it('passivates idle aggregates and recovers them on the next command', async () => {
    const { accounts, handles } = await start((b) => b.passivation({ idleTimeoutMs: 20 }))
    await accounts.send('idle', { type: 'open', owner: 'A' })
    await accounts.send('idle', { type: 'deposit', amount: 4 })
    expect(handles.runtime.isLive('account|idle')).toBe(true)
    await waitUntil(() => !handles.runtime.isLive('account|idle'))
    expect(handles.stats.passivated).toBe(1)
    expect((await accounts.send('idle', { type: 'deposit', amount: 1 })).version).toBe(3)
    expect(handles.runtime.liveState('account|idle')?.context.balance).toBe(5)
  })

  it('keeps at most maxLive aggregates, evicting the least recently used', async () => {
    const { accounts, handles } = await start((b) => b.passivation({ maxLive: 3 }))
    for (const id of ['a', 'b', 'c']) await accounts.send(id, { type: 'open', owner: id })
    await accounts.send('a', { type: 'deposit', amount: 1 }) // a is now the most recent
    await accounts.send('d', { type: 'open', owner: 'd' })
    expect(handles.runtime.liveIds().sort()).toEqual(['account|a', 'account|c', 'account|d'])
    expect((await accounts.send('b', { type: 'deposit', amount: 1 })).version).toBe(2)
  })

  it('stops only the failing child, recovers it, and refuses it after too many failures', async () => {
    let explode = true
    const fragile = defineAggregate({
      type: 'fragile',
      machine: setup({
        types: { context: {} as { n: number }, events: {} as { type: 'bumped' } },
        actions: {
          sideEffect: () => {
            if (explode) throw new Error('side effect failed')
          },
        },
      }).createMachine({
        context: { n: 0 },
        on: { bumped: { actions: [assign({ n: ({ context }) => context.n + 1 }), 'sideEffect'] } },
      }),
      commands: { bump: () => ({ type: 'bumped' }) },
    })
    const journal = createInMemoryJournal()
    const handles = await CqrsPattern.builder({ journal })
      .withAggregate(fragile)
      .withAggregate(account)
      .restartLimit({ maxRestarts: 2, withinMs: 60_000 })
      .logger(silentLogger)
      .build()
      .materialize()
    running.push(handles)
    const repo = handles.repository(fragile)
    // The events are durable even though the live actor failed: the command succeeds.
    expect((await repo.send('f', { type: 'bump' })).version).toBe(1)
    expect(handles.runtime.isLive('fragile|f')).toBe(false)
    expect((await handles.repository(account).send('other', { type: 'open', owner: 'A' })).version).toBe(1)
    expect((await repo.send('f', { type: 'bump' })).version).toBe(2)
    expect((await repo.send('f', { type: 'bump' })).version).toBe(3)
    await expect(repo.send('f', { type: 'bump' })).rejects.toMatchObject({ code: 'AGGREGATE_FAILING' })
    expect(await journal.highestSeqNr('fragile|f')).toBe(3)
    explode = false
  })

  it('times out a slow command with a typed error and aborts one that has not started', async () => {
    const journal = createInMemoryJournal()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const slow: Journal = {
      replay: (p, o) => journal.replay(p, o),
      readForRecovery: (p, o) => journal.readForRecovery(p, o),
      highestSeqNr: (p) => journal.highestSeqNr(p),
      deleteTo: (p, s) => journal.deleteTo(p, s),
      async append(requests) {
        await gate
        return journal.append(requests)
      },
    }
    const { accounts } = await start(() => {}, slow)
    const first = accounts.send('t', { type: 'open', owner: 'A' }, { timeoutMs: 20 })
    const controller = new AbortController()
    const second = accounts.send('t', { type: 'deposit', amount: 1 }, { signal: controller.signal })
    const secondAborted = expect(second).rejects.toMatchObject({ code: 'ABORTED' })
    controller.abort()
    await expect(first).rejects.toMatchObject({ code: 'TIMEOUT' })
    await secondAborted
    // A signal that is already aborted refuses the command before it is sent.
    await expect(
      accounts.send('t', { type: 'deposit', amount: 5 }, { signal: AbortSignal.abort('gone') }),
    ).rejects.toMatchObject({ code: 'ABORTED', cause: 'gone' })
    release()
    const third = await accounts.send('t', { type: 'deposit', amount: 2 })
    expect(third.version).toBe(2) // the timed-out open completed; the aborted deposit wrote nothing
    expect((await journal.replay('account|t')).map((e) => e.payload)).toEqual([{ owner: 'A' }, { amount: 2 }])
  })

  it('rejects malformed input with typed errors and keeps serving', async () => {
    const { accounts } = await start()
    await expect(accounts.send('', { type: 'open', owner: 'A' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(accounts.send('x'.repeat(20_000), { type: 'open', owner: 'A' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(accounts.send('m', null as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(accounts.send('m', { type: 'nope' } as never)).rejects.toMatchObject({
      code: 'UNKNOWN_COMMAND',
    })
    await expect(
      accounts.send('m', { type: 'open', owner: 'A' }, { expectedVersion: -1 }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    expect((await accounts.send('m', { type: 'open', owner: 'A' })).version).toBe(1)
  })

  it('stops gracefully: finishes in-flight commands, then refuses new ones', async () => {
    const { accounts, handles, journal } = await start()
    const inFlight = Array.from({ length: 20 }, (_, i) =>
      accounts.send(`g-${i}`, { type: 'open', owner: 'A' }),
    )
    await handles.stop()
    expect((await Promise.all(inFlight)).every((r) => r.version === 1)).toBe(true)
    expect(await journal.highestSeqNr('account|g-19')).toBe(1)
    await expect(accounts.send('g-1', { type: 'deposit', amount: 1 })).rejects.toMatchObject({
      code: 'GATEWAY_STOPPED',
    })
  })

  it("runs inside the application's own XState system, with real child actors per aggregate", async () => {
    const journal = createInMemoryJournal()
    const topology = CqrsPattern.builder({ journal, name: 'bank' })
      .withAggregate(account)
      .logger(silentLogger)
      .build()
    const app = setup({ actors: { gateway: topology.gateway } }).createMachine({
      entry: spawnChild('gateway', { systemId: 'bank', id: 'bank' }),
    })
    const seen: string[] = []
    const actor = createActor(app, {
      inspect: (e) => {
        if (
          e.type === '@xstate.event' &&
          (e.actorRef as AnyActorRef).id === 'account|app-1' &&
          !e.event.type.startsWith('xstate.')
        )
          seen.push(e.event.type)
      },
    }).start()
    const gateway = actor.system.get('bank') as AnyActorRef
    const accounts = createRepository(gateway, account)
    await accounts.send('app-1', { type: 'open', owner: 'A' })
    await accounts.send('app-1', { type: 'deposit', amount: 3 })
    const child = actor.system.get('statesource:account|app-1') as AnyActorRef
    expect(child.getSnapshot().context.balance).toBe(3)
    expect(seen).toEqual(['opened', 'deposited'])
    actor.stop()
    expect(child.getSnapshot().status).toBe('stopped')
  })
})

async function waitUntil(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('a gateway stopped while an append is in flight', () => {
  it('still answers the command when the append then fails (the stopped actor handles no more events)', async () => {
    const inner = createInMemoryJournal()
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let hold = false
    const journal: Journal = {
      replay: (pid, options) => inner.replay(pid, options),
      readForRecovery: (pid, options) => inner.readForRecovery(pid, options),
      highestSeqNr: (pid) => inner.highestSeqNr(pid),
      deleteTo: (pid, to) => inner.deleteTo(pid, to),
      append: async (requests) => {
        if (!hold) return inner.append(requests)
        await held
        // Another writer got there first: the journal refuses the stale write.
        await inner.append([{ ...requests[0]!, events: requests[0]!.events }])
        return inner.append(requests)
      },
    }
    const gateway = createActor(
      CqrsPattern.builder({ journal }).withAggregate(account).logger(silentLogger).build().gateway,
    ).start()
    const accounts = createRepository(gateway, account)
    await accounts.send('g', { type: 'open', owner: 'Ada' })
    hold = true
    const pending = accounts.send('g', { type: 'deposit', amount: 5 }, { timeoutMs: 60_000 })
    await new Promise((resolve) => setTimeout(resolve, 10))
    gateway.stop()
    release()
    await expect(pending).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' })
  })
})
