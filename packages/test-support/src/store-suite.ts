// The snapshot, offset and schedule store behaviour every SQL database of statesource must show, written once
// and run by each database package on its own database (like core's journal contract suite).
import {
  isStatesourceError,
  type OffsetStore,
  type ScheduleStore,
  type SnapshotStore,
  type StoredSchedule,
} from '@statesource/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

/** What a database package hands the store suite for each test: the stores of a fresh, empty database. */
export interface StoresUnderTest {
  snapshotStore: SnapshotStore
  offsetStore: OffsetStore
  scheduleStore: ScheduleStore
  /**
   * Makes the database refuse every snapshot write from now on (a trigger, a constraint); resolves the start of
   * the message the store's error then carries.
   */
  refuseSnapshotWrites(): Promise<string>
  /** The schedule store of the same database, opened again on a connection of its own. */
  reopenScheduleStore(): Promise<ScheduleStore>
  /** Called after each test. */
  dispose?: () => Promise<void> | void
}

const snap = (persistenceId: string, seqNr: number, state: unknown = { seqNr }) => ({
  persistenceId,
  seqNr,
  state,
  machineVersion: 'v2',
  timestamp: 1234,
})

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

/**
 * The store suite: snapshot, offset and schedule stores of one database. Call it inside a vitest file with a
 * factory that gives a fresh, empty database per test.
 */
export function describeStoreSuite(
  name: string,
  create: () => Promise<StoresUnderTest> | StoresUnderTest,
): void {
  describe(`stores: ${name}`, () => {
    let subject: StoresUnderTest
    beforeEach(async () => {
      subject = await create()
    })
    afterEach(async () => {
      await subject.dispose?.()
    })

    describe('snapshot store', () => {
      it('round-trips state, machine version and timestamp, and replaces a snapshot saved twice', async () => {
        const { snapshotStore } = subject
        await snapshotStore.save(snap('a', 5, { value: 'open', context: { n: 1 } }))
        await snapshotStore.save(snap('a', 5, { value: 'closed', context: { n: 2 } }))
        expect(await snapshotStore.load('a')).toEqual({
          persistenceId: 'a',
          seqNr: 5,
          state: { value: 'closed', context: { n: 2 } },
          machineVersion: 'v2',
          timestamp: 1234,
        })
        expect(await snapshotStore.count('a')).toBe(1)
      })

      it('keeps the newest N even when they are saved out of order', async () => {
        const { snapshotStore } = subject
        for (const seqNr of [30, 10, 40, 20]) await snapshotStore.save(snap('a', seqNr), { keepLast: 2 })
        expect(await snapshotStore.count('a')).toBe(2)
        expect((await snapshotStore.load('a'))?.seqNr).toBe(40)
        await snapshotStore.deleteTo('a', 39)
        expect((await snapshotStore.load('a'))?.seqNr).toBe(40)
      })

      it('rejects a state that is not JSON with SERIALIZATION_FAILED and stores nothing', async () => {
        const { snapshotStore } = subject
        const cyclic: Record<string, unknown> = {}
        cyclic.self = cyclic
        await expect(snapshotStore.save(snap('a', 1, cyclic))).rejects.toMatchObject({
          code: 'SERIALIZATION_FAILED',
        })
        await expect(snapshotStore.save(snap('a', 1, { f: () => 1 }))).rejects.toThrow(
          'Snapshot of "a" cannot be stored: property "f" is a function. Store plain JSON data only.',
        )
        expect(await snapshotStore.count('a')).toBe(0)
      })

      it('surfaces database failures as SNAPSHOT_FAILURE', async () => {
        const reason = await subject.refuseSnapshotWrites()
        const error = await subject.snapshotStore.save(snap('a', 1)).catch((e: unknown) => e)
        expect(isStatesourceError(error, 'SNAPSHOT_FAILURE')).toBe(true)
        expect((error as Error).message).toContain(`Saving the snapshot of "a" failed: ${reason}`)
      })
    })

    describe('offset store', () => {
      it('loads, saves and resets offsets per projection', async () => {
        const { offsetStore } = subject
        expect(await offsetStore.load('p')).toBeUndefined()
        await offsetStore.save('p', 10)
        await offsetStore.save('p', 42)
        await offsetStore.save('q', 7)
        expect(await offsetStore.load('p')).toBe(42)
        expect(await offsetStore.load('q')).toBe(7)
        await offsetStore.reset('p')
        expect(await offsetStore.load('p')).toBeUndefined()
        expect(await offsetStore.load('q')).toBe(7)
      })

      it('rejects an offset that is not a non-negative integer', async () => {
        await expect(subject.offsetStore.save('p', 1.5)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
        await expect(subject.offsetStore.save('p', -1)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
        expect(await subject.offsetStore.load('p')).toBeUndefined()
      })
    })

    describeScheduleStoreTests(() => subject, { reopens: true })
  })
}

/** What a schedule store on its own hands {@link describeScheduleStoreSuite} for each test. */
export interface ScheduleStoreUnderTest {
  scheduleStore: ScheduleStore
  /** Called after each test. */
  dispose?: () => Promise<void> | void
}

/**
 * The schedule store part of {@link describeStoreSuite}, for a store that keeps nothing across a reopen (the
 * in-memory one): every test but the reopen.
 */
export function describeScheduleStoreSuite(
  name: string,
  create: () => Promise<ScheduleStoreUnderTest> | ScheduleStoreUnderTest,
): void {
  describe(`stores: ${name}`, () => {
    let subject: ScheduleStoreUnderTest
    beforeEach(async () => {
      subject = await create()
    })
    afterEach(async () => {
      await subject.dispose?.()
    })
    describeScheduleStoreTests(() => subject, { reopens: false })
  })
}

function describeScheduleStoreTests(
  get: () => Pick<StoresUnderTest, 'scheduleStore'> & Partial<Pick<StoresUnderTest, 'reopenScheduleStore'>>,
  options: { reopens: boolean },
): void {
  describe('schedule store', () => {
    it('lists pending schedules earliest first and settles each one once', async () => {
      const store = get().scheduleStore
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
    })

    it('refuses a schedule id it already holds', async () => {
      await get().scheduleStore.add(entry('x', 1))
      await expect(get().scheduleStore.add(entry('x', 2))).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        message: 'A schedule with id "x" already exists. Use a new schedule id, or cancel the old one first.',
      })
    })

    if (options.reopens) {
      it('keeps pending schedules across a reopen of the database', async () => {
        await get().scheduleStore.add(entry('kept', 5))
        const again = await get().reopenScheduleStore!()
        expect(await again.pending()).toEqual([entry('kept', 5)])
      })
    }
  })
}
