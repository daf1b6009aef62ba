import path from 'node:path'
import { CqrsPattern, defineReader, silentLogger } from '@statesource/core'
import { counter } from '@statesource/test-support/read-side-fixtures'
import { describeReadSideSuite } from '@statesource/test-support/read-side-suite'
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { createPostgresProjection, openPostgres, type StatesourcePostgres } from '../src/index.ts'
import { appliedProjection } from './fixtures/applied-projection.ts'
import { adminQuery, freshSchema, openFresh, pgUrl } from './pg-test-server.ts'

describeReadSideSuite('PostgreSQL', () => {
  const schema = freshSchema()
  const url = pgUrl()
  return {
    open: () => openPostgres(url, { schema }),
    appliedProjection,
    readModel: async (pg: StatesourcePostgres) => {
      const [row] = await adminQuery<{ rows: string; last: string | null; total: string | null }>(
        `SELECT (SELECT count(*) FROM "${pg.schema}".applied) AS rows,
          (SELECT max(ordering) FROM "${pg.schema}".applied) AS last,
          (SELECT sum(total) FROM "${pg.schema}".totals) AS total`,
      )
      return { rows: Number(row?.rows), lastOrdering: Number(row?.last ?? 0), total: Number(row?.total ?? 0) }
    },
    // Each event commits on its own: the process is killed after a few dozen, while it applies the next.
    crash: {
      script: path.join(import.meta.dirname, 'fixtures/read-side-crash-child.ts'),
      args: [url, schema],
      streams: 4,
      perStream: 100,
      progressAt: 50,
      delayMs: 1,
    },
    dispose: async () => {
      await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    },
  }
})

describe('readers on the PostgreSQL journal', () => {
  it('parks a failing event in the PostgreSQL dead-letter store, where another process sees it', async () => {
    const { pg, schema, dispose } = await openFresh()
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
    await dispose()
  })
})

describe('projection setup', () => {
  it('runs one at a time when several processes create the same projection at once (CREATE TABLE IF NOT EXISTS races on its own)', async () => {
    const first = await openFresh({ listen: false })
    // Four pools on one schema stand for four processes starting together.
    const others = await Promise.all(
      [1, 2, 3].map(() => openPostgres(pgUrl(), { schema: first.schema, listen: false })),
    )
    try {
      for (let round = 0; round < 5; round++) {
        const table = `"${first.schema}".model_${round}`
        await Promise.all(
          [first.pg, ...others].map((pg) =>
            createPostgresProjection({
              pg,
              name: `model-${round}`,
              setup: (db) => sql.raw(`CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY)`).execute(db),
              initialState: undefined,
              apply: async (state) => state,
            }),
          ),
        )
        const [row] = await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)
        expect(Number(row?.n)).toBe(0)
      }
    } finally {
      for (const pg of others) await pg.close()
      await first.dispose()
    }
  })
})
