import { firstValueFrom, take, toArray } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import { assign, setup } from 'xstate'
import {
  type CqrsHandles,
  CqrsPattern,
  createInMemoryJournal,
  createInMemorySnapshotStore,
  createRepository,
  defineAggregate,
  isStatesourceError,
  type Journal,
  JournalOutcomeUnknownError,
  type Logger,
  NotConfiguredError,
  silentLogger,
} from '../src/index.ts'
import { account, accountCommands, accountMachine } from './fixtures.ts'

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

/** A journal whose appends wait for `release()`. */
function gatedJournal() {
  const journal = createInMemoryJournal()
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  const gated: Journal = {
    replay: (p, o) => journal.replay(p, o),
    readForRecovery: (p, o) => journal.readForRecovery(p, o),
    highestSeqNr: (p) => journal.highestSeqNr(p),
    deleteTo: (p, s) => journal.deleteTo(p, s),
    async append(requests) {
      await gate
      return journal.append(requests)
    },
  }
  return { journal, gated, release }
}

describe('idempotency: what a command id is remembered for', () => {
  it('answers a retry of a command that wrote no events from memory while the aggregate is live', async () => {
    const { accounts } = await start()
    await accounts.send('n', { type: 'open', owner: 'A' })
    const first = await accounts.send('n', { type: 'noop' }, { commandId: 'noop-1' })
    const retry = await accounts.send('n', { type: 'noop' }, { commandId: 'noop-1' })
    expect([first.duplicate, retry.duplicate]).toEqual([false, true])
  })

  it('forgets a command that wrote no events on passivation, even when a snapshot is written then', async () => {
    const snapshots = createInMemorySnapshotStore()
    const { accounts, handles, journal } = await start((b) =>
      b.snapshotStore(snapshots).snapshotPolicy('manual'),
    )
    await accounts.send('p', { type: 'open', owner: 'A' }, { commandId: 'open-p' })
    await accounts.send('p', { type: 'noop' }, { commandId: 'noop-p' })
    expect(handles.runtime.passivateNow('account|p')).toBe(true)
    while ((await snapshots.count('account|p')) === 0) await new Promise((r) => setImmediate(r))
    // Nothing of the no-op is in the journal, so nothing of it survives leaving memory: decide runs again.
    const retry = await accounts.send('p', { type: 'noop' }, { commandId: 'noop-p' })
    expect(retry).toMatchObject({ duplicate: false, version: 1, events: [] })
    // A command that wrote events is found again, through the snapshot and the journal.
    expect(await accounts.send('p', { type: 'open', owner: 'A' }, { commandId: 'open-p' })).toMatchObject({
      duplicate: true,
      version: 1,
    })
    expect(await journal.highestSeqNr('account|p')).toBe(1)
  })

  it('finds a command that wrote events after a restart and answers the retry with its first result', async () => {
    const journal = createInMemoryJournal()
    const run1 = await start(() => {}, journal)
    const first = await run1.accounts.send('r', { type: 'open', owner: 'A' }, { commandId: 'open-r' })
    await run1.handles.stop()
    const run2 = await start(() => {}, journal)
    const retry = await run2.accounts.send('r', { type: 'open', owner: 'A' }, { commandId: 'open-r' })
    expect(retry).toMatchObject({ duplicate: true, version: 1, ordering: first.ordering })
  })
})

describe('unknown outcome', () => {
  it('rejects with JOURNAL_OUTCOME_UNKNOWN, and a retry with the same commandId returns the committed result', async () => {
    const inner = createInMemoryJournal()
    let lose = true
    const flaky: Journal = {
      replay: (p, o) => inner.replay(p, o),
      readForRecovery: (p, o) => inner.readForRecovery(p, o),
      highestSeqNr: (p) => inner.highestSeqNr(p),
      deleteTo: (p, s) => inner.deleteTo(p, s),
      async append(requests) {
        const outcomes = await inner.append(requests)
        if (!lose) return outcomes
        lose = false // committed, but the caller never hears of it
        throw new JournalOutcomeUnknownError('the connection was lost (test)')
      },
    }
    const { accounts } = await start(() => {}, flaky)
    const send = () => accounts.send('u', { type: 'open', owner: 'A' }, { commandId: 'open-u' })
    await expect(send()).rejects.toMatchObject({
      code: 'JOURNAL_OUTCOME_UNKNOWN',
      message: expect.stringContaining('Retry the command with the same commandId'),
    })
    expect(await send()).toMatchObject({ duplicate: true, version: 1 })
    expect(await inner.highestSeqNr('account|u')).toBe(1)
  })
})

describe('timeouts', () => {
  it('drops a command still queued when its timeout fires: it never writes', async () => {
    const { journal, gated, release } = gatedJournal()
    const { accounts, handles } = await start(() => {}, gated)
    const opening = accounts.send('q', { type: 'open', owner: 'A' })
    const queued = accounts.send('q', { type: 'deposit', amount: 5 }, { timeoutMs: 10 })
    await expect(queued).rejects.toMatchObject({ code: 'TIMEOUT' })
    release()
    expect((await opening).version).toBe(1)
    await handles.runtime.drain()
    expect((await journal.replay('account|q')).map((e) => e.type)).toEqual(['opened'])
  })

  it('lets a command that had started when its timeout fired complete', async () => {
    const { journal, gated, release } = gatedJournal()
    const { accounts, handles } = await start(() => {}, gated)
    const started = accounts.send('s', { type: 'open', owner: 'A' }, { timeoutMs: 10 })
    await expect(started).rejects.toMatchObject({ code: 'TIMEOUT' })
    release()
    await handles.runtime.drain()
    expect(await journal.highestSeqNr('account|s')).toBe(1)
  })
})

describe('commands$', () => {
  it('publishes every failure: at intake, at recovery, at persist, and drops', async () => {
    const inner = createInMemoryJournal()
    let failAppend = false
    let failReplay = false
    const journal: Journal = {
      replay: (p, o) => (failReplay ? Promise.reject(new Error('disk gone')) : inner.replay(p, o)),
      readForRecovery: (p, o) =>
        failReplay ? Promise.reject(new Error('disk gone')) : inner.readForRecovery(p, o),
      highestSeqNr: (p) => inner.highestSeqNr(p),
      deleteTo: (p, s) => inner.deleteTo(p, s),
      append: (requests) => (failAppend ? Promise.reject(new Error('disk full')) : inner.append(requests)),
    }
    const { accounts, handles } = await start(() => {}, journal)
    const seen = firstValueFrom(handles.commands$.pipe(take(6), toArray()))
    await accounts.send('c', { type: 'open', owner: 'A' })
    await expect(accounts.send('', { type: 'open', owner: 'A' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(accounts.send('c', { type: 'deposit', amount: -1 })).rejects.toMatchObject({
      code: 'COMMAND_REJECTED',
    })
    await expect(
      accounts.send('c', { type: 'deposit', amount: 1 }, { expectedVersion: 7 }),
    ).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' })
    failAppend = true
    await expect(accounts.send('c', { type: 'deposit', amount: 1 })).rejects.toMatchObject({
      code: 'JOURNAL_FAILURE',
    })
    failAppend = false
    failReplay = true
    await expect(accounts.send('other', { type: 'open', owner: 'B' })).rejects.toMatchObject({
      code: 'RECOVERY_FAILED',
    })
    const outcomes = (await seen).map((c) => [c.persistenceId, c.outcome, c.error?.name ?? '-'])
    expect(outcomes).toEqual([
      ['account|c', 'persisted', '-'],
      ['account|', 'failed', 'StatesourceError'],
      ['account|c', 'rejected', 'CommandRejectedError'],
      ['account|c', 'failed', 'ConcurrencyError'],
      ['account|c', 'failed', 'StatesourceError'],
      ['account|other', 'failed', 'RecoveryError'],
    ])
  })

  it('publishes a command dropped on timeout as failed', async () => {
    const { gated, release } = gatedJournal()
    const { accounts, handles } = await start(() => {}, gated)
    const seen = firstValueFrom(handles.commands$.pipe(take(2), toArray()))
    const opening = accounts.send('d', { type: 'open', owner: 'A' })
    await expect(accounts.send('d', { type: 'deposit', amount: 1 }, { timeoutMs: 10 })).rejects.toMatchObject(
      { code: 'TIMEOUT' },
    )
    release()
    await opening
    expect((await seen).map((c) => [c.command.type, c.outcome, c.error?.message ?? '-'])).toEqual([
      ['open', 'persisted', '-'],
      [
        'deposit',
        'failed',
        'Command "deposit" for "account|d" timed out while it waited for its turn and was dropped; nothing was written.',
      ],
    ])
  })

  it('buffers each subscription up to the builder’s tapStreamBufferSize', async () => {
    const warnings: string[] = []
    const logger: Logger = { warn: (m) => warnings.push(m), error: () => {} }
    const { accounts, handles } = await start((b) => b.tapStreamBufferSize(1).logger(logger))
    const seen: number[] = []
    handles.events$.subscribe((e) => seen.push(e.seqNr))
    await accounts.send('b', { type: 'open', owner: 'A' })
    await accounts.send('b', { type: 'twice', amount: 1 }) // two envelopes offered at once to a buffer of 1
    await accounts.send('b', { type: 'deposit', amount: 1 })
    while (!seen.includes(4)) await new Promise((r) => setImmediate(r))
    expect(seen.length).toBeLessThan(4) // what a buffer of 1 could not hold was dropped
    expect(warnings).toContain(
      'Tap "events$" is full (1 events); dropping the oldest items until it catches up.',
    )
    expect(() =>
      CqrsPattern.builder({ journal: createInMemoryJournal() })
        .withAggregate(account)
        .tapStreamBufferSize(0)
        .build(),
    ).toThrow('streamBufferSize must be an integer of at least 1, got 0.')
  })
})

describe('supervision', () => {
  it('restarts an aggregate maxRestarts times and refuses it at the next failure, saying how often it failed', async () => {
    const fragile = defineAggregate({
      type: 'fragile',
      machine: setup({
        types: { context: {} as { n: number }, events: {} as { type: 'bumped' } },
        actions: {
          explode: () => {
            throw new Error('side effect failed')
          },
        },
      }).createMachine({
        context: { n: 0 },
        on: { bumped: { actions: [assign({ n: ({ context }) => context.n + 1 }), 'explode'] } },
      }),
      commands: { bump: () => ({ type: 'bumped' }) },
    })
    const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(fragile)
      .restartLimit({ maxRestarts: 1, withinMs: 60_000 })
      .logger(silentLogger)
      .build()
      .materialize()
    running.push(handles)
    const repo = handles.repository(fragile)
    expect((await repo.send('f', { type: 'bump' })).version).toBe(1) // failure 1: restarted
    expect((await repo.send('f', { type: 'bump' })).version).toBe(2) // failure 2: refused from now on
    await expect(repo.send('f', { type: 'bump' })).rejects.toMatchObject({
      code: 'AGGREGATE_FAILING',
      message: expect.stringMatching(
        /^Aggregate "fragile\|f" failed 2 times within 60000 ms \(restartLimit.maxRestarts is 1\) and is refused until /,
      ),
    })
  })
})

describe('every error is a StatesourceError', () => {
  const other = defineAggregate({
    type: 'other',
    machine: setup({ types: { events: {} as { type: 'done' } } }).createMachine({}),
    commands: { finish: () => ({ type: 'done' }) },
  })

  it('refuses an unregistered aggregate with NotConfiguredError, when asked for its repository and at send', async () => {
    const { handles } = await start()
    expect(() => handles.repository(other)).toThrow(NotConfiguredError)
    const direct = createRepository(handles.gateway, other)
    const refused = await direct.send('o-1', { type: 'finish' }).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(NotConfiguredError)
    expect(refused).toMatchObject({ code: 'NOT_CONFIGURED', what: 'aggregate' })
  })

  it('refuses bad read journal options with INVALID_INPUT', () => {
    const journal = createInMemoryJournal()
    for (const config of [{ pageSize: 0 }, { pageSize: 1.5 }, { pollIntervalMs: 0 }]) {
      let thrown: unknown
      try {
        journal.readJournal(config)
      } catch (error) {
        thrown = error
      }
      expect(isStatesourceError(thrown, 'INVALID_INPUT')).toBe(true)
    }
  })
})

describe('deleting events', () => {
  it('deletes through the handles only what a stored snapshot covers', async () => {
    const snapshots = createInMemorySnapshotStore()
    const { accounts, handles, journal } = await start((b) =>
      b.snapshotStore(snapshots).snapshotPolicy('manual'),
    )
    await accounts.send('t', { type: 'open', owner: 'A' })
    await accounts.send('t', { type: 'deposit', amount: 5 })
    await expect(handles.deleteEvents(account, 't', { toSeqNr: 1 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('would leave them covered by no snapshot (it has none)'),
    })
    handles.runtime.snapshotNow('account|t')
    while ((await snapshots.count('account|t')) === 0) await new Promise((r) => setImmediate(r))
    await accounts.send('t', { type: 'deposit', amount: 1 })
    await expect(handles.deleteEvents(account, 't', { toSeqNr: 3 })).rejects.toMatchObject({
      message: expect.stringContaining(
        'would leave events 3..3 covered by no snapshot (the newest is at event 2)',
      ),
    })
    await handles.deleteEvents(account, 't', { toSeqNr: 2 })
    expect((await journal.replay('account|t')).map((e) => e.seqNr)).toEqual([3])
    const bare = await start()
    await expect(bare.handles.deleteEvents(account, 't', { toSeqNr: 1 })).rejects.toMatchObject({
      code: 'NOT_CONFIGURED',
    })
  })

  it('recovers from the snapshot a deletion relied on after a machine version bump', async () => {
    const journal = createInMemoryJournal()
    const snapshots = createInMemorySnapshotStore()
    const run1 = await start((b) => b.snapshotStore(snapshots).snapshotPolicy({ every: 2 }), journal)
    await run1.accounts.send('v', { type: 'open', owner: 'A' }, { commandId: 'open-v' })
    await run1.accounts.send('v', { type: 'deposit', amount: 5 })
    await run1.accounts.send('v', { type: 'deposit', amount: 1 }) // event 3 stays in the journal
    await run1.handles.stop()
    await journal.deleteTo('account|v', 2) // the documented operation: up to a snapshot you keep
    const warnings: string[] = []
    const bumped = defineAggregate({
      type: 'account',
      machine: accountMachine,
      commands: accountCommands,
      version: 2,
    })
    const builder = CqrsPattern.builder({ journal })
      .withAggregate(bumped)
      .snapshotStore(snapshots)
      .logger({ warn: (m) => warnings.push(m), error: () => {} })
    const handles = await builder.build().materialize()
    running.push(handles)
    const accounts = handles.repository(bumped)
    expect((await accounts.send('v', { type: 'deposit', amount: 10 })).version).toBe(4)
    expect(handles.runtime.liveState('account|v')?.context.balance).toBe(16)
    // The ids the snapshot remembered still answer retries.
    expect(await accounts.send('v', { type: 'open', owner: 'A' }, { commandId: 'open-v' })).toMatchObject({
      duplicate: true,
    })
    expect(warnings).toEqual([
      'Recovered "account|v" from its snapshot of machine version "1" at event 2 (the current version is "2"): the events it covers were deleted, so it cannot be refolded.',
    ])
  })

  it('says why when the new machine cannot restore the snapshot a deletion relied on', async () => {
    const journal = createInMemoryJournal()
    const snapshots = createInMemorySnapshotStore()
    const run1 = await start((b) => b.snapshotStore(snapshots).snapshotPolicy({ every: 1 }), journal)
    await run1.accounts.send('w', { type: 'open', owner: 'A' })
    await run1.handles.stop()
    await journal.deleteTo('account|w', 1)
    const renamed = defineAggregate({
      type: 'account',
      version: 2,
      machine: setup({ types: { events: {} as { type: 'opened' } } }).createMachine({
        initial: 'fresh',
        states: { fresh: { on: { opened: 'active' } }, active: {} },
      }),
      commands: { open: () => ({ type: 'opened' }) },
    })
    const handles = await CqrsPattern.builder({ journal })
      .withAggregate(renamed)
      .snapshotStore(snapshots)
      .logger(silentLogger)
      .build()
      .materialize()
    running.push(handles)
    await expect(handles.repository(renamed).send('w', { type: 'open' })).rejects.toMatchObject({
      code: 'RECOVERY_FAILED',
      message: expect.stringContaining(
        'Events 1..1 of "account|w" were deleted and the snapshot that covers them was written by machine version "1", which version "2" cannot restore',
      ),
    })
  })
})
