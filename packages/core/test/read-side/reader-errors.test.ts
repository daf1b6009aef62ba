import { describe, expect, it } from 'vitest'
import {
  AuditLog,
  createInMemoryDeadLetterStore,
  createInMemoryJournal,
  defineReader,
  ProjectionError,
  ReaderFilter,
  UnknownManifestError,
} from '../../src/index.ts'
import { account } from '../fixtures.ts'
import { accountBuilder } from './read-side-fixtures.ts'

/** A reader that throws on deposits of `poison` while `broken.on` is true. */
function sumReader(
  name: string,
  errorPolicy: 'halt' | 'skip' | 'dead-letter',
  broken: { on: boolean },
  poison = 13,
) {
  return defineReader({
    name,
    errorPolicy,
    filter: ReaderFilter.tag('money'),
    initialState: [] as number[],
    apply: (amounts: number[], event) => {
      const amount = event.amount as number
      if (broken.on && amount === poison) throw new Error(`cannot handle ${amount}`)
      return [...amounts, amount]
    },
  })
}

async function depositAll(
  handles: Awaited<ReturnType<ReturnType<ReturnType<typeof accountBuilder>['build']>['materialize']>>,
  amounts: number[],
) {
  const accounts = handles.repository(account)
  await accounts.send('x-1', { type: 'open', owner: 'Ada' })
  let last = 0
  for (const amount of amounts) last = (await accounts.send('x-1', { type: 'deposit', amount })).ordering
  return last
}

describe('error policies', () => {
  it('halt: stops at the failing event, keeps the offset before it and reports it', async () => {
    const broken = { on: true }
    const builder = accountBuilder()
    const sums = builder.withReader(sumReader('sums', 'halt', broken))
    const handles = await builder.build().materialize()
    const last = await depositAll(handles, [1, 13, 2])
    const error = await sums.waitForOffset(last).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ProjectionError)
    const halted = error as ProjectionError
    expect(halted.position).toEqual({
      ordering: 3,
      persistenceId: 'account|x-1',
      seqNr: 3,
      manifest: 'deposited@1',
    })
    expect(halted.message).toContain('Reader "sums" halted at event 3 of "account|x-1" (ordering 3')
    expect(sums.state).toEqual([1])
    expect(sums.offset).toBe(2)
    const [status] = await handles.readerStatus()
    expect(status).toMatchObject({ phase: 'halted', offset: 2, lag: 2 })
    expect(status?.error).toBe(halted)
    // A fix for a transient cause: resume retries the same event.
    broken.on = false
    await sums.resume()
    expect(await sums.waitForOffset(last)).toEqual([1, 13, 2])
    await handles.stop()
  })

  it('skip: records the event with its position and moves on', async () => {
    const builder = accountBuilder()
    const sums = builder.withReader(sumReader('sums', 'skip', { on: true }))
    const handles = await builder.build().materialize()
    const last = await depositAll(handles, [1, 13, 2])
    expect(await sums.waitForOffset(last)).toEqual([1, 2])
    expect(sums.skippedEvents()).toEqual([
      {
        ordering: 3,
        persistenceId: 'account|x-1',
        seqNr: 3,
        manifest: 'deposited@1',
        error: 'cannot handle 13',
        attempts: 1,
      },
    ])
    expect(sums.status).toMatchObject({ skipped: 1, lastFailure: { message: 'cannot handle 13' } })
    await handles.stop()
  })

  it('dead-letter: parks the event in a store you can list, replay and delete from', async () => {
    const broken = { on: true }
    const store = createInMemoryDeadLetterStore()
    const builder = accountBuilder().deadLetterStore(store)
    const sums = builder.withReader(sumReader('sums', 'dead-letter', broken))
    const handles = await builder.build().materialize()
    const last = await depositAll(handles, [1, 13, 2, 13])
    expect(await sums.waitForOffset(last)).toEqual([1, 2])
    const parked = await sums.deadLetters()
    expect(parked.map((d) => [d.projection, d.envelope.ordering, d.error, d.attempts])).toEqual([
      ['sums', 3, 'cannot handle 13', 1],
      ['sums', 5, 'cannot handle 13', 1],
    ])
    expect(handles.deadLetters).toBe(store)
    // Still broken: the replay fails and the entry stays parked.
    await expect(sums.replayDeadLetter(parked[0]!.id)).rejects.toThrow(/failed again/)
    broken.on = false
    expect(await sums.replayDeadLetter(parked[0]!.id)).toEqual([1, 2, 13])
    expect(await store.delete(parked[1]!.id)).toBe(true)
    expect(await sums.deadLetters()).toEqual([])
    await expect(sums.replayDeadLetter(999)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await handles.stop()
  })

  it('retries re-apply the same event before the policy applies', async () => {
    let failures = 2
    const applied: number[] = []
    const builder = accountBuilder().readerRetry(5, { fixedMs: 10 })
    const total = builder.withReader(
      defineReader({
        name: 'total',
        filter: ReaderFilter.tag('money'),
        initialState: 0,
        apply: (sum: number, event, envelope) => {
          applied.push(envelope.ordering)
          if (failures > 0) {
            failures--
            throw new Error('flaky')
          }
          return sum + ('amount' in event ? event.amount : 0)
        },
      }),
    )
    const handles = await builder.build().materialize()
    const last = await depositAll(handles, [5, 7])
    expect(await total.waitForOffset(last)).toBe(12)
    expect(failures).toBe(0)
    expect(applied).toEqual([2, 2, 2, 3])
    expect(total.status).toMatchObject({ retries: 2, skipped: 0 })
    await handles.stop()
  })

  it('counts retries since the runner started or was rebuilt, like applied and skipped', async () => {
    let failures = 1
    const builder = accountBuilder().readerRetry(3, { fixedMs: 1 })
    const total = builder.withReader(
      defineReader({
        name: 'total',
        filter: ReaderFilter.tag('money'),
        initialState: 0,
        apply: (sum: number, event) => {
          if (failures > 0) {
            failures--
            throw new Error('flaky')
          }
          return sum + ('amount' in event ? event.amount : 0)
        },
      }),
    )
    const handles = await builder.build().materialize()
    const last = await depositAll(handles, [5])
    expect(await total.waitForOffset(last)).toBe(5)
    expect(total.status).toMatchObject({ retries: 1, applied: 1 })
    await handles.rebuildProjection('total')
    expect(await total.waitForOffset(last)).toBe(5)
    expect(total.status).toMatchObject({ retries: 0, applied: 1 })
    await handles.stop()
  })

  it('gives up after maxAttempts, with a per-reader override', async () => {
    const attempts: number[] = []
    const builder = accountBuilder().readerRetry(5, { fixedMs: 1 })
    const sums = builder.withReader({
      ...sumReader('sums', 'skip', { on: true }),
      retry: { maxAttempts: 3, schedule: { minMs: 1, maxMs: 4 } },
      apply: (s: number[], event) => {
        const amount = 'amount' in event ? event.amount : 0
        if (amount === 13) {
          attempts.push(1)
          throw new Error('always')
        }
        return [...s, amount]
      },
    })
    const handles = await builder.build().materialize()
    const last = await depositAll(handles, [13, 4])
    expect(await sums.waitForOffset(last)).toEqual([4])
    expect(attempts).toHaveLength(3)
    expect(sums.skippedEvents()[0]?.attempts).toBe(3)
    await handles.stop()
  })

  it('turns an unknown manifest into a typed error handled by the policy, without retrying it', async () => {
    const journal = createInMemoryJournal()
    await journal.append([
      {
        persistenceId: 'legacy|l-1',
        expectedSeqNr: 0,
        events: [{ type: 'mystery', version: 4, payload: {}, tags: [], metadata: {} }],
      },
    ])
    const builder = accountBuilder(journal).readerRetry(3, { fixedMs: 1 })
    const count = builder.withReader(
      defineReader({ name: 'count', initialState: 0, apply: (n: number) => n + 1 }),
    )
    const handles = await builder.build().materialize()
    const error = (await count.waitForOffset(1).catch((e: unknown) => e)) as ProjectionError
    expect(error.cause).toBeInstanceOf(UnknownManifestError)
    expect(error.cause).toMatchObject({ manifest: 'mystery@4', persistenceId: 'legacy|l-1' })
    expect(error.message).toContain(
      'after 1 attempt(s): No decoder for manifest "mystery@4" (event 1 of "legacy|l-1")',
    )
    expect(count.status.retries).toBe(0)
    await handles.stop()
  })

  it('a poison event in one reader leaves another reader and the write side running', async () => {
    const builder = accountBuilder()
    const poisoned = builder.withReader(sumReader('poisoned', 'halt', { on: true }))
    const healthy = builder.withReader(sumReader('healthy', 'halt', { on: false }))
    const audit = builder.withReader(new AuditLog({ capacity: 10 }))
    const handles = await builder.build().materialize()
    const last = await depositAll(handles, [1, 13, 2])
    // The write side keeps accepting commands after the poison event.
    const after = await handles.repository(account).send('x-1', { type: 'deposit', amount: 3 })
    expect(after.version).toBe(5)
    expect(await healthy.waitForOffset(after.ordering)).toEqual([1, 13, 2, 3])
    expect((await audit.waitForOffset(after.ordering)).recent(2).map((e) => e.seqNr)).toEqual([4, 5])
    await expect(poisoned.waitForOffset(last)).rejects.toBeInstanceOf(ProjectionError)
    expect(poisoned.status.phase).toBe('halted')
    expect(healthy.status.phase).not.toBe('halted')
    await handles.stop()
  })
})
