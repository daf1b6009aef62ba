import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isStatesourceError } from '../errors.ts'
import type { AppendRequest } from '../persistence/envelope.ts'
import type { Journal } from '../persistence/journal.ts'
import type { ReadJournal } from '../persistence/read-journal.ts'
import type { SnapshotStore } from '../persistence/snapshot-store.ts'
import { appendRequest, newEvent } from './builders.ts'

/** What a journal implementation hands the contract suite for each test. */
export interface JournalUnderTest {
  journal: Journal
  readJournal: ReadJournal
  snapshotStore?: SnapshotStore
  /** Called after each test. */
  dispose?: () => Promise<void> | void
}

async function appendOk(journal: Journal, ...requests: AppendRequest[]) {
  const outcomes = await journal.append(requests)
  for (const outcome of outcomes) if (!outcome.ok) throw outcome.error
  return outcomes.flatMap((o) => (o.ok ? o.envelopes : []))
}

async function seed(journal: Journal, persistenceId: string, count: number, tags: string[] = []) {
  return appendOk(
    journal,
    appendRequest(
      persistenceId,
      Array.from({ length: count }, (_, i) => newEvent('counted', { n: i + 1 }, { tags })),
    ),
  )
}

/**
 * The journal contract suite: every {@link Journal} + {@link ReadJournal} implementation must pass it.
 * Call it inside a vitest file with a factory that gives a fresh, empty journal per test.
 *
 * @example
 * ```ts
 * describeJournalContract('in-memory', () => {
 *   const journal = createInMemoryJournal()
 *   return { journal, readJournal: journal.readJournal({ pollIntervalMs: 20 }) }
 * })
 * ```
 */
export function describeJournalContract(
  name: string,
  create: () => Promise<JournalUnderTest> | JournalUnderTest,
): void {
  describe(`journal contract: ${name}`, () => {
    let subject: JournalUnderTest
    beforeEach(async () => {
      subject = await create()
    })
    afterEach(async () => {
      await subject.dispose?.()
    })

    describe('append and replay', () => {
      it('replays what was written, in order, and reports the highest sequence number', async () => {
        await seed(subject.journal, 'p-1', 3)
        const replayed = await subject.journal.replay('p-1')
        expect(replayed.map((e) => e.seqNr)).toEqual([1, 2, 3])
        expect(replayed.map((e) => e.payload)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
        expect(await subject.journal.highestSeqNr('p-1')).toBe(3)
      })

      it('rejects an append whose expected sequence number is not the current one', async () => {
        const [outcome] = await subject.journal.append([
          appendRequest('p-1', [newEvent('counted')], { expectedSeqNr: 1 }),
        ])
        expect(outcome?.ok).toBe(false)
        expect(outcome && !outcome.ok && isStatesourceError(outcome.error, 'CONCURRENCY_CONFLICT')).toBe(true)
        expect(await subject.journal.replay('p-1')).toEqual([])
      })

      it('fails only the conflicting request of a multi-stream call', async () => {
        await seed(subject.journal, 'p-2', 1)
        const outcomes = await subject.journal.append([
          appendRequest('p-1', [newEvent('counted')]),
          appendRequest('p-2', [newEvent('counted')]),
          appendRequest('p-3', [newEvent('counted'), newEvent('counted')]),
        ])
        expect(outcomes.map((o) => o.ok)).toEqual([true, false, true])
        expect(await subject.journal.highestSeqNr('p-1')).toBe(1)
        expect(await subject.journal.highestSeqNr('p-2')).toBe(1)
        expect(await subject.journal.highestSeqNr('p-3')).toBe(2)
      })

      it('writes nothing of a request with an unserializable payload and keeps the others', async () => {
        const cyclic: Record<string, unknown> = {}
        cyclic.self = cyclic
        const outcomes = await subject.journal.append([
          appendRequest('bad-1', [newEvent('ok'), newEvent('big', { n: 10n })]),
          appendRequest('good', [newEvent('ok')]),
          appendRequest('bad-2', [newEvent('cycle', cyclic)]),
          appendRequest('bad-3', [newEvent('fn', { f: () => 1 })]),
        ])
        expect(outcomes.map((o) => o.ok)).toEqual([false, true, false, false])
        for (const outcome of outcomes) {
          if (!outcome.ok) expect(isStatesourceError(outcome.error, 'SERIALIZATION_FAILED')).toBe(true)
        }
        expect(await subject.journal.highestSeqNr('bad-1')).toBe(0)
        expect(await subject.journal.replay('good')).toHaveLength(1)
      })

      it('stores type, version, payload, tags, metadata, timestamp and writer on every envelope', async () => {
        const before = Date.now()
        await appendOk(subject.journal, {
          persistenceId: 'p-1',
          expectedSeqNr: 0,
          events: [
            {
              type: 'renamed',
              version: 3,
              payload: { name: 'Zoë', nested: { list: [1, 'two', null] } },
              tags: ['red', 'blue'],
              metadata: { commandId: 'c-1', correlationId: 'corr', userId: 'u' },
            },
          ],
        })
        const [stored] = await subject.journal.replay('p-1')
        expect(stored).toMatchObject({
          persistenceId: 'p-1',
          seqNr: 1,
          type: 'renamed',
          version: 3,
          payload: { name: 'Zoë', nested: { list: [1, 'two', null] } },
          metadata: { commandId: 'c-1', correlationId: 'corr', userId: 'u' },
        })
        expect([...(stored?.tags ?? [])].sort()).toEqual(['blue', 'red'])
        expect(stored!.timestamp).toBeGreaterThanOrEqual(before - 1000)
        expect(typeof stored!.writerId).toBe('string')
        expect(stored!.ordering).toBeGreaterThan(0)
      })

      it('stores hostile ids and tags exactly', async () => {
        // As long as the default limits allow: 1,024 bytes of id, 256 bytes of tag.
        const id = `'; drop table journal; --"\u{1F600}\u0000x${'é'.repeat(480)}`
        const tag = `t'ag"; ${'ü'.repeat(120)}`
        await appendOk(subject.journal, appendRequest(id, [newEvent('x', {}, { tags: [tag] })]))
        expect((await subject.journal.replay(id))[0]?.persistenceId).toBe(id)
        const byTag = await lastValueFrom(subject.readJournal.currentEventsByTag(tag).pipe(toArray()))
        expect(byTag.map((e) => e.persistenceId)).toEqual([id])
        expect(byTag[0]?.tags).toContain(tag)
      })
    })

    describe('size limits', () => {
      it('refuses each request beyond a default limit alone, naming the limit, and writes nothing of it', async () => {
        const journal = subject.journal
        const outcomes = await journal.append([
          appendRequest('big-payload', [newEvent('x', { s: 'x'.repeat(1_048_577) })]),
          appendRequest('big-metadata', [newEvent('x', {}, { metadata: { note: 'm'.repeat(65_537) } })]),
          appendRequest(`order|${'i'.repeat(1_019)}`, [newEvent('x')]),
          // 129 two-byte characters: 258 bytes, over 256 although only 129 characters long.
          appendRequest('long-type', [newEvent('é'.repeat(129))]),
          appendRequest('long-tag', [newEvent('x', {}, { tags: ['t'.repeat(257)] })]),
          appendRequest('many-tags', [
            newEvent('x', {}, { tags: Array.from({ length: 65 }, (_, i) => `t${i}`) }),
          ]),
          appendRequest('fine', [newEvent('x', { s: 'x'.repeat(1_000_000) }, { tags: ['é'.repeat(128)] })]),
        ])
        expect(outcomes.map((o) => o.ok)).toEqual([false, false, false, false, false, false, true])
        const messages = outcomes.flatMap((o) => (o.ok ? [] : [o.error]))
        for (const error of messages) expect(isStatesourceError(error, 'INVALID_INPUT')).toBe(true)
        expect(messages.map((e) => /limits\.(\w+)/.exec(e.message)?.[1])).toEqual([
          'maxPayloadBytes',
          'maxMetadataBytes',
          'maxPersistenceIdBytes',
          'maxEventTypeBytes',
          'maxTagBytes',
          'maxTagsPerEvent',
        ])
        expect(messages[0]!.message).toContain('1,048,585 bytes; the limit is 1,048,576')
        expect(messages[0]!.message).toMatch(/raise limits\.maxPayloadBytes \(.+\)/)
        for (const pid of ['big-payload', 'big-metadata', 'long-type', 'long-tag', 'many-tags']) {
          expect(await journal.highestSeqNr(pid)).toBe(0)
        }
        expect(await journal.highestSeqNr('fine')).toBe(1)
        expect(journal.limits).toMatchObject({ maxPayloadBytes: 1_048_576, maxPersistenceIdBytes: 1_024 })
      })

      it('refuses far oversized input: an 8 MiB payload, a 1 MB type and tag, a 5 MB persistence id', async () => {
        const outcomes = await subject.journal.append([
          appendRequest('p', [newEvent('x', { blob: 'b'.repeat(8 * 1024 * 1024) })]),
          appendRequest('p', [newEvent('t'.repeat(1_000_000))]),
          appendRequest('p', [newEvent('x', {}, { tags: ['g'.repeat(1_000_000)] })]),
          appendRequest('i'.repeat(5_000_000), [newEvent('x')]),
        ])
        expect(outcomes.map((o) => !o.ok && isStatesourceError(o.error, 'INVALID_INPUT'))).toEqual([
          true,
          true,
          true,
          true,
        ])
        // The message quotes at most 80 characters of the oversized value.
        for (const o of outcomes) if (!o.ok) expect(o.error.message.length).toBeLessThan(600)
        expect(await subject.journal.highestSeqNr('p')).toBe(0)
      })
    })

    describe('consistent recovery read', () => {
      it('reads the events from a sequence number and the highest sequence number together', async () => {
        await seed(subject.journal, 'p-1', 5)
        const read = await subject.journal.readForRecovery('p-1', { fromSeqNr: 3 })
        expect(read.events.map((e) => e.seqNr)).toEqual([3, 4, 5])
        expect(read.highestSeqNr).toBe(5)
        expect(await subject.journal.readForRecovery('nobody')).toEqual({ events: [], highestSeqNr: 0 })
        const past = await subject.journal.readForRecovery('p-1', { fromSeqNr: 6 })
        expect(past).toEqual({ events: [], highestSeqNr: 5 })
      })

      it('counts deleted events in the highest sequence number but never returns them', async () => {
        await seed(subject.journal, 'p-1', 5)
        await subject.journal.deleteTo('p-1', 5)
        expect(await subject.journal.readForRecovery('p-1')).toEqual({ events: [], highestSeqNr: 5 })
      })

      it('never sees an append half-way: the events always end at the highest sequence number', async () => {
        // Appends race the reads; a read that saw the events of one state and the head of a later one
        // would report events that are not there (what recovery takes for deleted history).
        await seed(subject.journal, 'p-1', 1)
        let writing = true
        const writer = (async () => {
          for (let seqNr = 1; seqNr <= 60; seqNr++)
            await appendOk(
              subject.journal,
              appendRequest('p-1', [newEvent('counted', { n: seqNr + 1 })], { expectedSeqNr: seqNr }),
            )
          writing = false
        })()
        let reads = 0
        while (writing || reads === 0) {
          const read = await subject.journal.readForRecovery('p-1', { fromSeqNr: 1 })
          expect(read.events.at(-1)?.seqNr ?? 0).toBe(read.highestSeqNr)
          expect(read.events.map((e) => e.seqNr)).toEqual(
            Array.from({ length: read.highestSeqNr }, (_, i) => i + 1),
          )
          reads++
          // Let the writer's callbacks run: a synchronous journal would otherwise starve them.
          await new Promise((resolve) => setImmediate(resolve))
        }
        await writer
      })
    })

    describe('text that is not well-formed Unicode', () => {
      it('refuses lone surrogates in ids, event types and tags, naming the field, and writes nothing', async () => {
        const cases: [AppendRequest, string][] = [
          [appendRequest('x\uDC00', [newEvent('counted')]), 'persistenceId'],
          [appendRequest('\uD800', [newEvent('counted')]), 'persistenceId'],
          [appendRequest('p-1', [newEvent('bad\uD800')]), 'event type'],
          [appendRequest('p-1', [newEvent('counted', {}, { tags: ['t\uDFFF'] })]), 'tag'],
        ]
        for (const [request, field] of cases) {
          const [outcome] = await subject.journal.append([request])
          expect(outcome?.ok).toBe(false)
          const error = outcome && !outcome.ok ? outcome.error : undefined
          expect(isStatesourceError(error, 'INVALID_INPUT')).toBe(true)
          expect(error?.message).toContain(`The ${field} `)
        }
        expect(await subject.journal.highestSeqNr('p-1')).toBe(0)
        await expect(subject.journal.replay('x\uDC00')).rejects.toMatchObject({ code: 'INVALID_INPUT' })
        await expect(subject.journal.readForRecovery('\uD800')).rejects.toMatchObject({
          code: 'INVALID_INPUT',
        })
      })

      it('keeps well-formed astral characters, NUL and the replacement character apart', async () => {
        const ids = ['\u{1F600}', '\uFFFD', 'a\u0000b', 'a']
        for (const id of ids) await seed(subject.journal, id, 1)
        for (const id of ids) {
          const [event] = await subject.journal.replay(id)
          expect(event?.persistenceId).toBe(id)
        }
        const listed = await lastValueFrom(subject.readJournal.currentPersistenceIds().pipe(toArray()))
        expect([...listed].sort()).toEqual([...ids].sort())
      })
    })

    describe('replay ranges', () => {
      it('respects from, to and max', async () => {
        await seed(subject.journal, 'p-1', 10)
        expect(
          (await subject.journal.replay('p-1', { fromSeqNr: 4, toSeqNr: 7 })).map((e) => e.seqNr),
        ).toEqual([4, 5, 6, 7])
        expect(await subject.journal.replay('p-1', { max: 3 })).toHaveLength(3)
        expect(await subject.journal.replay('p-1', { max: 0 })).toEqual([])
        expect(await subject.journal.replay('p-1', { fromSeqNr: 8, toSeqNr: 7 })).toEqual([])
        expect(await subject.journal.replay('p-1', { fromSeqNr: 11 })).toEqual([])
      })

      it('replays the same result twice', async () => {
        await seed(subject.journal, 'p-1', 5)
        expect(await subject.journal.replay('p-1')).toEqual(await subject.journal.replay('p-1'))
      })

      it('gives an unknown stream no events and sequence number 0', async () => {
        expect(await subject.journal.replay('nobody')).toEqual([])
        expect(await subject.journal.highestSeqNr('nobody')).toBe(0)
      })

      it('never replays deleted events and never lowers the highest sequence number', async () => {
        await seed(subject.journal, 'p-1', 5)
        await subject.journal.deleteTo('p-1', 0)
        expect(await subject.journal.replay('p-1')).toHaveLength(5)
        await subject.journal.deleteTo('p-1', 3)
        expect((await subject.journal.replay('p-1')).map((e) => e.seqNr)).toEqual([4, 5])
        await subject.journal.deleteTo('p-1', 99)
        expect(await subject.journal.replay('p-1')).toEqual([])
        expect(await subject.journal.highestSeqNr('p-1')).toBe(5)
        await subject.journal.deleteTo('nobody', 3)
        const [next] = await subject.journal.append([
          appendRequest('p-1', [newEvent('counted')], { expectedSeqNr: 5 }),
        ])
        expect(next?.ok).toBe(true)
        expect((await subject.journal.replay('p-1')).map((e) => e.seqNr)).toEqual([6])
      })

      it('keeps concurrent writers to different streams contiguous and isolated', async () => {
        await Promise.all(
          ['a', 'b', 'c', 'd'].map(async (id) => {
            for (let i = 0; i < 20; i++)
              await appendOk(
                subject.journal,
                appendRequest(id, [newEvent('counted', { i })], { expectedSeqNr: i }),
              )
          }),
        )
        for (const id of ['a', 'b', 'c', 'd']) {
          const events = await subject.journal.replay(id)
          expect(events.map((e) => e.seqNr)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
          expect(events.every((e) => e.persistenceId === id)).toBe(true)
        }
      })
    })

    describe('global ordering', () => {
      it('orders all events by a strictly increasing global ordering in commit order', async () => {
        await appendOk(subject.journal, appendRequest('a', [newEvent('x'), newEvent('x')]))
        await appendOk(
          subject.journal,
          appendRequest('b', [newEvent('x')]),
          appendRequest('a', [newEvent('x')], { expectedSeqNr: 2 }),
        )
        const all = await lastValueFrom(subject.readJournal.currentAllEvents().pipe(toArray()))
        expect(all.map((e) => `${e.persistenceId}:${e.seqNr}`)).toEqual(['a:1', 'a:2', 'b:1', 'a:3'])
        for (let i = 1; i < all.length; i++) expect(all[i]!.ordering).toBeGreaterThan(all[i - 1]!.ordering)
        const after = await lastValueFrom(
          subject.readJournal.currentAllEvents(all[1]!.ordering).pipe(toArray()),
        )
        expect(after.map((e) => `${e.persistenceId}:${e.seqNr}`)).toEqual(['b:1', 'a:3'])
      })

      it('reports the highest ordering', async () => {
        expect(await subject.readJournal.highestOrdering()).toBe(0)
        const stored = await seed(subject.journal, 'a', 3)
        expect(await subject.readJournal.highestOrdering()).toBe(stored.at(-1)!.ordering)
      })

      it('reads past many pages', async () => {
        for (let i = 0; i < 3; i++) await seed(subject.journal, `many-${i}`, 700)
        const all = await lastValueFrom(subject.readJournal.currentAllEvents().pipe(toArray()))
        expect(all).toHaveLength(2100)
        const one = await lastValueFrom(
          subject.readJournal.currentEventsByPersistenceId('many-1').pipe(toArray()),
        )
        expect(one.map((e) => e.seqNr)).toEqual(Array.from({ length: 700 }, (_, i) => i + 1))
      })
    })

    describe('queries', () => {
      it('reads a range of one stream, the same through current and live variants', async () => {
        await seed(subject.journal, 'a', 3)
        const current = await lastValueFrom(
          subject.readJournal.currentEventsByPersistenceId('a', 1, 2).pipe(toArray()),
        )
        const live = await lastValueFrom(subject.readJournal.eventsByPersistenceId('a', 1, 2).pipe(toArray()))
        expect(current.map((e) => e.seqNr)).toEqual([1, 2])
        expect(live).toEqual(current)
      })

      it('reads events by tag across streams, from a global offset', async () => {
        await appendOk(
          subject.journal,
          appendRequest('a', [newEvent('x', {}, { tags: ['red'] }), newEvent('x', {}, { tags: ['blue'] })]),
          appendRequest('b', [newEvent('x', {}, { tags: ['red'] })]),
        )
        const tagged = (tag: string, after?: number) =>
          lastValueFrom(subject.readJournal.currentEventsByTag(tag, after).pipe(toArray()))
        const red = await tagged('red')
        expect(red.map((e) => `${e.persistenceId}:${e.seqNr}`)).toEqual(['a:1', 'b:1'])
        expect(await tagged('blue')).toHaveLength(1)
        expect(await tagged('green')).toHaveLength(0)
        expect((await tagged('red', red[0]!.ordering)).map((e) => e.persistenceId)).toEqual(['b'])
      })

      it('lists each persistence id once', async () => {
        await seed(subject.journal, 'a', 2)
        await seed(subject.journal, 'b', 1)
        await appendOk(subject.journal, appendRequest('a', [newEvent('x')], { expectedSeqNr: 2 }))
        const ids = await lastValueFrom(subject.readJournal.currentPersistenceIds().pipe(toArray()))
        expect(ids).toEqual(['a', 'b'])
      })

      it('keeps live queries tailing new events', async () => {
        await seed(subject.journal, 'a', 1, ['live'])
        const seen = firstValueFrom(subject.readJournal.eventsByTag('live').pipe(take(3), toArray()))
        const ids = firstValueFrom(subject.readJournal.persistenceIds().pipe(take(2), toArray()))
        const all = firstValueFrom(subject.readJournal.allEvents().pipe(take(3), toArray()))
        await new Promise((r) => setTimeout(r, 20))
        await appendOk(
          subject.journal,
          appendRequest('a', [newEvent('x', {}, { tags: ['live'] })], { expectedSeqNr: 1 }),
        )
        await seed(subject.journal, 'b', 1, ['live'])
        expect((await seen).map((e) => `${e.persistenceId}:${e.seqNr}`)).toEqual(['a:1', 'a:2', 'b:1'])
        expect(await ids).toEqual(['a', 'b'])
        expect(await all).toHaveLength(3)
      })
    })

    describe('snapshots', () => {
      const snap = (persistenceId: string, seqNr: number, state: unknown = { seqNr }) => ({
        persistenceId,
        seqNr,
        state,
        machineVersion: '1',
        timestamp: Date.now(),
      })

      it('loads the latest save, per stream', async () => {
        const store = subject.snapshotStore
        if (!store) return expect(store).toBeUndefined()
        expect(await store.load('a')).toBeUndefined()
        await store.save(snap('a', 10))
        await store.save(snap('a', 20, { big: 'x'.repeat(10_000) }))
        await store.save(snap('b', 5))
        expect((await store.load('a'))?.seqNr).toBe(20)
        expect((await store.load('a'))?.state).toEqual({ big: 'x'.repeat(10_000) })
        expect((await store.load('b'))?.seqNr).toBe(5)
      })

      it('deletes partially, ignores unknown ids and clears everything up to the max', async () => {
        const store = subject.snapshotStore
        if (!store) return expect(store).toBeUndefined()
        for (const seqNr of [10, 20, 30]) await store.save(snap('a', seqNr))
        await store.deleteTo('a', 20)
        expect(await store.count('a')).toBe(1)
        expect((await store.load('a'))?.seqNr).toBe(30)
        await store.deleteTo('nobody', 10)
        await store.deleteTo('a', Number.MAX_SAFE_INTEGER)
        expect(await store.load('a')).toBeUndefined()
      })

      it('keeps the last N snapshots, counted in snapshots', async () => {
        const store = subject.snapshotStore
        if (!store) return expect(store).toBeUndefined()
        for (const seqNr of [10, 20, 30, 40]) await store.save(snap('a', seqNr), { keepLast: 2 })
        expect(await store.count('a')).toBe(2)
        await store.deleteTo('a', 30)
        expect((await store.load('a'))?.seqNr).toBe(40)
      })

      it('survives concurrent saves', async () => {
        const store = subject.snapshotStore
        if (!store) return expect(store).toBeUndefined()
        await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.save(snap(`c-${i % 3}`, i + 1), { keepLast: 3 })),
        )
        for (let i = 0; i < 3; i++) expect(await store.count(`c-${i}`)).toBeLessThanOrEqual(3)
      })

      it('rejects a snapshot that cannot be serialized', async () => {
        const store = subject.snapshotStore
        if (!store) return expect(store).toBeUndefined()
        await expect(store.save(snap('a', 1, { n: 1n }))).rejects.toMatchObject({
          code: 'SERIALIZATION_FAILED',
        })
      })
    })
  })
}
