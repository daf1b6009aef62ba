import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { AuditLog, CqrsPattern, defineReader, ReaderFilter, silentLogger } from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import { afterAll, describe, expect, it } from 'vitest'
import { counter } from './fixtures/read-side-projection.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-read-side-sqlite-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe('readers on the SQLite journal', () => {
  it('runs tag, stream and audit readers, resumes at-least-once readers from sqlite offsets, and rebuilds', async () => {
    const file = path.join(dir, 'readers.db')
    const kept: number[] = []
    const run = async (sends: number) => {
      const sqlite = await openSqlite(file)
      const builder = CqrsPattern.builder({ journal: sqlite.journal })
        .withAggregate(counter)
        .readJournal(sqlite.readJournal({ pollIntervalMs: 20 }))
        .offsetStore(sqlite.offsetStore)
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
      return { sqlite, handles, last, byTag, oneStream, durable, audit }
    }

    const first = await run(4)
    expect(await first.byTag.waitForOffset(first.last)).toBe(4)
    expect(await first.oneStream.waitForOffset(first.last)).toBe(2)
    expect((await first.audit.waitForOffset(first.last)).recent(2).map((e) => e.ordering)).toEqual([3, 4])
    await first.durable.waitForOffset(first.last)
    await first.handles.stop()
    await first.sqlite.close()

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
    await second.sqlite.close()
  })
})
