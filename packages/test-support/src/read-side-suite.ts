// The read-side behaviour every SQL database of statesource must show, written once and run by each database
// package on its own database (like core's journal contract suite).
import { spawn } from 'node:child_process'
import path from 'node:path'
import {
  AuditLog,
  CqrsPattern,
  type DeadLetterStore,
  defineReader,
  ReaderFilter,
  silentLogger,
} from '@statesource/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type AppliedProjection,
  counter,
  counterTopology,
  type ReadSideDatabase,
} from './read-side-fixtures.ts'

const root = path.resolve(import.meta.dirname, '../../..')

/** What a database package hands the read-side suite for each test. */
export interface ReadSideUnderTest<TDatabase extends ReadSideDatabase> {
  /** Opens the test's database; every call opens the same one, as a restarted process would. */
  open(): Promise<TDatabase>
  /** The `applied` projection in this database's tables (see {@link AppliedProjection}). */
  appliedProjection: AppliedProjection<TDatabase>
  /** What the `applied` projection wrote: its rows, their highest ordering, and the sum of `totals`. */
  readModel(database: TDatabase): Promise<{ rows: number; lastOrdering: number; total: number }>
  /**
   * The process the crash test kills: a script that runs `runProjectionUntilKilled` on this database, started
   * as `node --import tsx <script> ...args <options as JSON>`. `streams` × `perStream` events are written
   * first; the process reports progress after `progressAt` of them, each apply taking `delayMs`.
   */
  crash: {
    script: string
    args: string[]
    streams: number
    perStream: number
    progressAt: number
    delayMs: number
  }
  /** Called after each test. */
  dispose?: () => Promise<void> | void
}

/**
 * Readers on a database's journal, offset and dead-letter stores, and its exactly-once projections across
 * restarts and crashes. Call it inside a vitest file with a factory that gives a fresh, empty database per test.
 */
export function describeReadSideSuite<
  TDatabase extends ReadSideDatabase & { deadLetterStore?: DeadLetterStore },
>(name: string, create: () => Promise<ReadSideUnderTest<TDatabase>> | ReadSideUnderTest<TDatabase>): void {
  describe(`read side: ${name}`, () => {
    let subject: ReadSideUnderTest<TDatabase>
    beforeEach(async () => {
      subject = await create()
    })
    afterEach(async () => {
      await subject.dispose?.()
    })

    it('runs tag, stream and audit readers, resumes at-least-once readers from stored offsets, and rebuilds', async () => {
      const kept: number[] = []
      const run = async (sends: number) => {
        const database = await subject.open()
        let builder = CqrsPattern.builder({ journal: database.journal })
          .withAggregate(counter)
          .readJournal(database.readJournal({ pollIntervalMs: 20 }))
          .offsetStore(database.offsetStore)
          .logger(silentLogger)
        if (database.deadLetterStore) builder = builder.deadLetterStore(database.deadLetterStore)
        const byTag = builder.withReader(
          defineReader({
            name: 'by-tag',
            filter: ReaderFilter.tag('count'),
            initialState: 0,
            apply: (n: number, e) => n + (e.by as number),
          }),
        )
        const oneStream = builder.withReader(
          defineReader({
            name: 'one',
            filter: ReaderFilter.persistenceId('counter|b'),
            initialState: 0,
            apply: (n: number) => n + 1,
          }),
        )
        const durable = builder.withReader(
          defineReader({
            name: 'durable',
            initialState: 0,
            loadState: () => kept.length,
            checkpoint: { everyEvents: 1 },
            apply: (n: number, _e, envelope) => {
              kept.push(envelope.ordering)
              return n + 1
            },
          }),
        )
        const audit = builder.withReader(new AuditLog({ capacity: 2 }))
        const handles = await builder.build().materialize()
        let last = 0
        for (let i = 0; i < sends; i++) {
          last = (await handles.repository(counter).send(i % 2 ? 'a' : 'b', { type: 'add', by: 1 })).ordering
        }
        return { database, handles, last, byTag, oneStream, durable, audit }
      }

      const first = await run(4)
      expect(await first.byTag.waitForOffset(first.last)).toBe(4)
      expect(await first.oneStream.waitForOffset(first.last)).toBe(2)
      expect((await first.audit.waitForOffset(first.last)).recent(2).map((e) => e.ordering)).toEqual([3, 4])
      await first.durable.waitForOffset(first.last)
      await first.handles.stop()
      await first.database.close()

      const second = await run(2)
      expect(await second.byTag.waitForOffset(second.last)).toBe(6)
      await second.durable.waitForOffset(second.last)
      // Resumed from the stored offset: the first four events were not applied again.
      expect(kept).toEqual([1, 2, 3, 4, 5, 6])
      expect(second.durable.status.applied).toBe(2)
      await second.handles.rebuildProjection('by-tag')
      expect(second.byTag.state).toBe(6)
      const status = await second.handles.readerStatus()
      expect(status.map((s) => [s.name, s.lag])).toEqual([
        ['by-tag', 0],
        ['one', 0],
        ['durable', 0],
        ['audit', 0],
      ])
      await second.handles.stop()
      await second.database.close()
    })

    describe('exactly-once projections', () => {
      it('resumes from the committed offset after the process is killed mid-way, applying every event once', async () => {
        const { crash } = subject
        const head = await seed(subject, crash.streams, crash.perStream)

        // Run 1, in a child process killed with SIGKILL while the projection is catching up.
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            crash.script,
            ...crash.args,
            JSON.stringify({ progressAt: crash.progressAt, delayMs: crash.delayMs }),
          ],
          { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
        )
        const exited = new Promise<NodeJS.Signals | null>((resolve) =>
          child.on('exit', (_code, signal) => resolve(signal)),
        )
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (chunk: Buffer) => {
            if (chunk.toString().includes('progress')) resolve()
          })
          child.on('exit', () => reject(new Error('the child exited before reporting progress')))
        })
        child.kill('SIGKILL')
        expect(await exited).toBe('SIGKILL')

        // Run 2, in this process: resumes after the committed offset.
        const database = await subject.open()
        const committed = await subject.readModel(database)
        expect(committed.rows).toBeLessThan(head)
        expect(committed.rows).toBeGreaterThanOrEqual(crash.progressAt)
        // The offset and the rows committed together: the offset is exactly the last applied row.
        expect(await database.offsetStore.load('applied')).toBe(committed.lastOrdering)

        const { builder, applied } = await counterTopology(database, subject.appliedProjection)
        const handles = await builder.build().materialize()
        await applied.waitForOffset(head, { timeout: 60_000 })
        expect(applied.status.phase).not.toBe('halted')
        expect(applied.status.applied).toBe(head - committed.rows)
        expect(applied.state).toBe(head)
        expect(await subject.readModel(database)).toMatchObject({ rows: head, total: head })
        await handles.stop()
        await database.close()
      }, 120_000)

      it('rolls back a failing event alone, keeps the ones before it, applies it once after a restart, and rebuilds', async () => {
        const database = await subject.open()
        const first = await counterTopology(database, subject.appliedProjection, { poison: { ordering: 3 } })
        const handles = await first.builder.build().materialize()
        let last = 0
        for (let i = 0; i < 5; i++)
          last = (await handles.repository(counter).send('p-1', { type: 'add', by: 10 })).ordering
        await expect(first.applied.waitForOffset(last)).rejects.toThrow(/halted at event 3 of "counter\|p-1"/)
        // Event 3 wrote to `totals` before throwing: its transaction (or savepoint) rolled that back.
        expect(await subject.readModel(database)).toMatchObject({ rows: 2, total: 20 })
        expect(await database.offsetStore.load('applied')).toBe(2)
        await handles.stop()

        // Restart with the fix: only events 3..6 are applied, each once.
        const second = await counterTopology(database, subject.appliedProjection)
        const again = await second.builder.build().materialize()
        const sent = await again.repository(counter).send('p-1', { type: 'add', by: 10 })
        await second.applied.waitForOffset(sent.ordering)
        expect(second.applied.status.applied).toBe(4)
        expect(second.applied.state).toBe(6)
        expect((await subject.readModel(database)).total).toBe(60)

        // A rebuild clears the tables and the offset together and replays.
        await again.rebuildProjection('applied')
        expect(await subject.readModel(database)).toMatchObject({ rows: 6, total: 60 })
        await again.stop()
        await database.close()
      })

      it('applies each event once when the projection restarts without a stored offset in the builder', async () => {
        const database = await subject.open()
        const first = await counterTopology(database, subject.appliedProjection)
        const handles = await first.builder.build().materialize()
        let last = 0
        for (let i = 0; i < 3; i++)
          last = (await handles.repository(counter).send('p-1', { type: 'add', by: 1 })).ordering
        await first.applied.waitForOffset(last)
        await handles.stop()
        // A second topology whose offset store is in memory reads from 0: the projection's own offset (kept
        // with its rows) skips what is already applied.
        const builder = CqrsPattern.builder({ journal: database.journal })
          .withAggregate(counter)
          .readJournal(database.readJournal({ pollIntervalMs: 20 }))
          .logger(silentLogger)
        const applied = builder.withReader(await subject.appliedProjection(database))
        const again = await builder.build().materialize()
        await applied.waitForOffset(last)
        expect(await subject.readModel(database)).toMatchObject({ rows: 3, total: 3 })
        await again.stop()
        await database.close()
      })
    })
  })
}

/** Writes `perStream` events to each of `streams` counters, one append a stream; returns the highest ordering. */
async function seed<TDatabase extends ReadSideDatabase>(
  subject: ReadSideUnderTest<TDatabase>,
  streams: number,
  perStream: number,
): Promise<number> {
  const database = await subject.open()
  for (let s = 0; s < streams; s++) {
    const outcomes = await database.journal.append([
      {
        persistenceId: counter.persistenceId(`c-${s}`),
        expectedSeqNr: 0,
        events: Array.from({ length: perStream }, () => ({
          type: 'added',
          version: 1,
          payload: { by: 1 },
          tags: ['count'],
          metadata: {},
        })),
      },
    ])
    expect(outcomes.every((o) => o.ok)).toBe(true)
  }
  const head = await database.readJournal().highestOrdering()
  await database.close()
  return head
}
