import { appendRequest, newEvent } from '@statesource/core/testing'
import { describeStoreSuite } from '@statesource/test-support/store-suite'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openPostgres, type StatesourcePostgres } from '../src/index.ts'
import { fromDbText, toDbText } from '../src/pg-text.ts'
import { adminQuery, freshSchema, openFresh, pgUrl } from './pg-test-server.ts'

let db: StatesourcePostgres
let dispose: () => Promise<void>
beforeEach(async () => {
  ;({ pg: db, dispose } = await openFresh({ listen: false }))
})
afterEach(() => dispose())

describe('stored text', () => {
  it('round-trips U+0000 and U+0001 and leaves every other string unchanged', () => {
    for (const value of [
      '',
      'plain',
      'a\u0000b',
      '\u0001',
      '\u00010',
      '\u0000\u0001\u0000',
      'x\u0001\u0001y',
    ]) {
      expect(fromDbText(toDbText(value))).toBe(value)
      expect(toDbText(value).includes('\u0000')).toBe(false)
    }
    expect(toDbText('account|1')).toBe('account|1')
    expect(toDbText('a\u0000b')).not.toBe(toDbText('a\u00010b'))
  })
})

describeStoreSuite('PostgreSQL', async () => {
  const opened = await openFresh({ listen: false })
  const reopened: StatesourcePostgres[] = []
  return {
    snapshotStore: opened.pg.snapshotStore,
    offsetStore: opened.pg.offsetStore,
    scheduleStore: opened.pg.scheduleStore,
    refuseSnapshotWrites: async () => {
      await adminQuery(
        `ALTER TABLE "${opened.schema}".statesource_snapshot ADD CONSTRAINT no_snapshots CHECK (seq_nr < 0)`,
      )
      return 'new row for relation "statesource_snapshot" violates check constraint "no_snapshots"'
    },
    reopenScheduleStore: async () => {
      const again = await openPostgres(pgUrl(), { schema: opened.schema, listen: false })
      reopened.push(again)
      return again.scheduleStore
    },
    dispose: async () => {
      for (const again of reopened) await again.close()
      await opened.dispose()
    },
  }
})

describe('offset store', () => {
  it('never rewinds an offset on save (a late checkpoint of a reader that moved away); only reset moves it back', async () => {
    await db.offsetStore.save('p', 42)
    await db.offsetStore.save('p', 30)
    expect(await db.offsetStore.load('p')).toBe(42)
    await db.offsetStore.reset('p')
    expect(await db.offsetStore.load('p')).toBeUndefined()
    await db.offsetStore.save('p', 30)
    expect(await db.offsetStore.load('p')).toBe(30)
  })
})

describe('transaction(fn)', () => {
  it('commits the read model and the offset together, or rolls both back', async () => {
    const balances = sql.table(`${db.schema}.balances`)
    await sql`CREATE TABLE ${balances} (id text PRIMARY KEY, amount int NOT NULL)`.execute(db.kysely)
    await db.transaction(async (tx) => {
      await sql`INSERT INTO ${balances} VALUES ('acc-1', 10)`.execute(tx.kysely)
      await tx.offsets.save('balances', 7)
    })
    await expect(
      db.transaction(async (tx) => {
        await sql`UPDATE ${balances} SET amount = 99`.execute(tx.kysely)
        await tx.offsets.save('balances', 8)
        throw new Error('projection failed')
      }),
    ).rejects.toThrow('projection failed')
    expect((await sql<{ amount: number }>`SELECT amount FROM ${balances}`.execute(db.kysely)).rows).toEqual([
      { amount: 10 },
    ])
    expect(await db.offsetStore.load('balances')).toBe(7)
    // advance() only moves forward.
    expect(await db.transaction((tx) => tx.offsets.advance('balances', 7))).toBe(false)
    expect(await db.transaction((tx) => tx.offsets.advance('balances', 9))).toBe(true)
    expect(await db.offsetStore.load('balances')).toBe(9)
  })
})

describe('dead-letter store', () => {
  it('parks, lists per projection, gets and deletes entries', async () => {
    const envelope = { ...(await appendOne(db)), payload: { n: '\u0000' } }
    const parked = await db.deadLetterStore.park({
      projection: 'p',
      envelope,
      error: 'boom',
      attempts: 3,
      parkedAt: 5,
    })
    await db.deadLetterStore.park({ projection: 'q', envelope, error: 'bang', attempts: 1, parkedAt: 6 })
    expect(await db.deadLetterStore.get(parked.id)).toEqual(parked)
    expect((await db.deadLetterStore.list('p')).map((d) => d.error)).toEqual(['boom'])
    expect((await db.deadLetterStore.list()).map((d) => d.error)).toEqual(['boom', 'bang'])
    expect(await db.deadLetterStore.delete(parked.id)).toBe(true)
    expect(await db.deadLetterStore.delete(parked.id)).toBe(false)
    expect(await db.deadLetterStore.get(parked.id)).toBeUndefined()
  })
})

async function appendOne(target: StatesourcePostgres) {
  const [outcome] = await target.journal.append([appendRequest('dl', [newEvent('x')])])
  if (!outcome?.ok) throw new Error('append failed')
  return outcome.envelopes[0]!
}

describe('openPostgres', () => {
  it('works on a pg.Pool and on a Kysely instance, which it leaves open', async () => {
    const pool = new pg.Pool({ connectionString: pgUrl(), max: 2 })
    const onPool = await openPostgres(pool, { schema: db.schema })
    await appendOne(onPool)
    expect(onPool.listenerStats?.listening).toBe(true)
    await onPool.close()
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])

    const kysely = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
    const onKysely = await openPostgres(kysely, { schema: db.schema })
    expect(onKysely.listenerStats).toBeUndefined()
    expect(await onKysely.journal.highestSeqNr('dl')).toBe(1)
    await onKysely.close()
    await kysely.destroy()
  })

  it('records its migrations in its own table in the schema and opens an up-to-date schema again', async () => {
    const rows = await adminQuery<{ name: string }>(`SELECT name FROM "${db.schema}".statesource_migration`)
    expect(rows.map((r) => r.name)).toEqual(['0001_journal'])
    const again = await openPostgres(pgUrl(), { schema: db.schema, listen: false })
    await again.close()
  })

  it('refuses a schema with foreign statesource tables, a newer schema, and an unreachable server', async () => {
    const foreign = freshSchema()
    await adminQuery(`CREATE SCHEMA "${foreign}"; CREATE TABLE "${foreign}".statesource_journal (x int)`)
    try {
      await expect(openPostgres(pgUrl(), { schema: foreign })).rejects.toMatchObject({
        code: 'SCHEMA_MISMATCH',
      })
    } finally {
      await adminQuery(`DROP SCHEMA "${foreign}" CASCADE`)
    }
    await adminQuery(
      `INSERT INTO "${db.schema}".statesource_migration (name, timestamp) VALUES ('9999_future', 'now')`,
    )
    await expect(openPostgres(pgUrl(), { schema: db.schema })).rejects.toThrow(
      /newer statesource schema .* \(unknown migrations: "9999_future"\)/,
    )
    await expect(openPostgres('postgres://nobody:secret@127.0.0.1:1/none')).rejects.toMatchObject({
      code: 'JOURNAL_FAILURE',
      message: expect.stringContaining('postgres://nobody:***@127.0.0.1:1/none'),
    })
  })
})
