import { spawn } from 'node:child_process'
import path from 'node:path'
import { AuditLog, CqrsPattern, defineReader, ReaderFilter, silentLogger } from '@statesource/core'
import { afterEach, describe, expect, it } from 'vitest'
import { openPostgres, type StatesourcePostgres } from '../src/index.ts'
import { counter, counterTopology } from './fixtures/counter.ts'
import { adminQuery, freshSchema, pgUrl } from './pg-test-server.ts'

const root = path.resolve(import.meta.dirname, '../../..')
const schemas: string[] = []
afterEach(async () => {
  for (const schema of schemas.splice(0)) await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

function newSchema(): string {
  const schema = freshSchema()
  schemas.push(schema)
  return schema
}

async function count(pg: StatesourcePostgres, table: string): Promise<number> {
  const rows = await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM "${pg.schema}"."${table}"`)
  return Number(rows[0]?.n)
}

async function total(pg: StatesourcePostgres): Promise<number> {
  const rows = await adminQuery<{ t: string }>(`SELECT sum(total) AS t FROM "${pg.schema}".totals`)
  return Number(rows[0]?.t)
}

async function seed(url: string, schema: string, streams: number, perStream: number): Promise<number> {
  const pg = await openPostgres(url, { schema })
  const outcomes = await pg.journal.append(
    Array.from({ length: streams }, (_, s) => ({
      persistenceId: counter.persistenceId(`c-${s}`),
      expectedSeqNr: 0,
      events: Array.from({ length: perStream }, () => ({
        type: 'added',
        version: 1,
        payload: { by: 1 },
        tags: ['count'],
        metadata: {},
      })),
    })),
  )
  expect(outcomes.every((o) => o.ok)).toBe(true)
  const head = await pg.readJournal().highestOrdering()
  await pg.close()
  return head
}

describe('readers on the PostgreSQL journal', () => {
  it('runs tag, stream and audit readers, resumes at-least-once readers from PostgreSQL offsets, and rebuilds', async () => {
    const schema = newSchema()
    const kept: number[] = []
    const run = async (sends: number) => {
      const pg = await openPostgres(pgUrl(), { schema })
      const builder = CqrsPattern.builder({ journal: pg.journal })
        .withAggregate(counter)
        .readJournal(pg.readJournal({ pollIntervalMs: 20 }))
        .offsetStore(pg.offsetStore)
        .deadLetterStore(pg.deadLetterStore)
        .logger(silentLogger)
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
      return { pg, handles, last, byTag, oneStream, durable, audit }
    }

    const first = await run(4)
    expect(await first.byTag.waitForOffset(first.last)).toBe(4)
    expect(await first.oneStream.waitForOffset(first.last)).toBe(2)
    expect((await first.audit.waitForOffset(first.last)).recent(2).map((e) => e.ordering)).toEqual([3, 4])
    await first.durable.waitForOffset(first.last)
    await first.handles.stop()
    await first.pg.close()

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
    await second.pg.close()
  })

  it('parks a failing event in the PostgreSQL dead-letter store, where another process sees it', async () => {
    const schema = newSchema()
    const pg = await openPostgres(pgUrl(), { schema })
    const builder = CqrsPattern.builder({ journal: pg.journal })
      .withAggregate(counter)
      .readJournal(pg.readJournal({ pollIntervalMs: 20 }))
      .offsetStore(pg.offsetStore)
      .deadLetterStore(pg.deadLetterStore)
      .logger(silentLogger)
    const picky = builder.withReader(
      defineReader({
        name: 'picky',
        initialState: 0,
        errorPolicy: 'dead-letter',
        retry: false,
        apply: (n: number, e) => {
          if (e.by === 13) throw new Error('unlucky')
          return n + 1
        },
      }),
    )
    const handles = await builder.build().materialize()
    await handles.repository(counter).send('a', { type: 'add', by: 1 })
    await handles.repository(counter).send('a', { type: 'add', by: 13 })
    const { ordering } = await handles.repository(counter).send('a', { type: 'add', by: 2 })
    expect(await picky.waitForOffset(ordering)).toBe(2)
    const other = await openPostgres(pgUrl(), { schema, listen: false })
    const parked = await other.deadLetterStore.list('picky')
    expect(parked.map((d) => [d.envelope.seqNr, d.envelope.payload, d.error])).toEqual([
      [2, { by: 13 }, 'unlucky'],
    ])
    expect(await other.deadLetterStore.delete(parked[0]!.id)).toBe(true)
    expect(await pg.deadLetterStore.list()).toEqual([])
    await other.close()
    await handles.stop()
    await pg.close()
  })
})

describe('read side on PostgreSQL: exactly-once across restarts', () => {
  it('resumes from the committed offset after the process is killed mid-way, applying every event once', async () => {
    const schema = newSchema()
    const url = pgUrl()
    const head = await seed(url, schema, 4, 100)

    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures/read-side-crash-child.ts'), url, schema],
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

    const pg = await openPostgres(url, { schema })
    const committed = await count(pg, 'applied')
    const offset = await pg.offsetStore.load('applied')
    const lastRow = await adminQuery<{ o: string }>(`SELECT max(ordering) AS o FROM "${schema}".applied`)
    expect(committed).toBeLessThan(head)
    expect(committed).toBeGreaterThanOrEqual(50)
    // The offset and the rows committed together: the offset is exactly the last applied row.
    expect(offset).toBe(Number(lastRow[0]?.o))

    const { builder, applied } = await counterTopology(pg)
    const handles = await builder.build().materialize()
    await applied.waitForOffset(head, { timeout: 60_000 })
    expect(applied.status.phase).not.toBe('halted')
    expect(applied.status.applied).toBe(head - committed)
    expect(applied.state).toBe(head)
    expect(await count(pg, 'applied')).toBe(head)
    expect(await total(pg)).toBe(head)
    await handles.stop()
    await pg.close()
  })

  it('rolls back a failing event alone, and applies it once after a restart; a rebuild replays in one go', async () => {
    const schema = newSchema()
    const pg = await openPostgres(pgUrl(), { schema })
    const first = await counterTopology(pg, { poison: { ordering: 3 } })
    const handles = await first.builder.build().materialize()
    let last = 0
    for (let i = 0; i < 5; i++)
      last = (await handles.repository(counter).send('p-1', { type: 'add', by: 10 })).ordering
    await expect(first.applied.waitForOffset(last)).rejects.toThrow(/halted at event 3 of "counter\|p-1"/)
    // Event 3 wrote to `totals` before throwing: its transaction rolled that back.
    expect(await count(pg, 'applied')).toBe(2)
    expect(await total(pg)).toBe(20)
    expect(await pg.offsetStore.load('applied')).toBe(2)
    await handles.stop()

    const second = await counterTopology(pg)
    const again = await second.builder.build().materialize()
    const sent = await again.repository(counter).send('p-1', { type: 'add', by: 10 })
    await second.applied.waitForOffset(sent.ordering)
    expect(second.applied.status.applied).toBe(4)
    expect(second.applied.state).toBe(6)
    expect(await total(pg)).toBe(60)

    await again.rebuildProjection('applied')
    expect(await count(pg, 'applied')).toBe(6)
    expect(await total(pg)).toBe(60)
    await again.stop()
    await pg.close()
  })

  it('applies each event once when the projection restarts without a stored offset in the builder', async () => {
    const schema = newSchema()
    const pg = await openPostgres(pgUrl(), { schema })
    const first = await counterTopology(pg)
    const handles = await first.builder.build().materialize()
    let last = 0
    for (let i = 0; i < 3; i++)
      last = (await handles.repository(counter).send('p-1', { type: 'add', by: 1 })).ordering
    await first.applied.waitForOffset(last)
    await handles.stop()
    // A second topology whose offset store is in memory reads from 0: the projection's own offset check
    // (inside each event's transaction) skips what is already applied.
    const builder = CqrsPattern.builder({ journal: pg.journal })
      .withAggregate(counter)
      .readJournal(pg.readJournal({ pollIntervalMs: 20 }))
      .logger(silentLogger)
    const { appliedProjection } = await import('./fixtures/counter.ts')
    const applied = builder.withReader(await appliedProjection(pg))
    const again = await builder.build().materialize()
    await applied.waitForOffset(last)
    expect(await count(pg, 'applied')).toBe(3)
    expect(await total(pg)).toBe(3)
    await again.stop()
    await pg.close()
  })
})
