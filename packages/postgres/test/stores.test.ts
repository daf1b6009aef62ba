import { isStatesourceError, type StoredSchedule } from '@statesource/core'
import { appendRequest, newEvent } from '@statesource/core/testing'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fromDbText, toDbText } from '../src/pg-text.ts'
import { openPostgres, type StatesourcePostgres } from '../src/index.ts'
import { adminQuery, freshSchema, openFresh, pgUrl } from './pg-test-server.ts'

let db: StatesourcePostgres
let dispose: () => Promise<void>
beforeEach(async () => {
  ;({ pg: db, dispose } = await openFresh({ listen: false }))
})
afterEach(() => dispose())

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

describe('snapshot store', () => {
  it('round-trips state, machine version and timestamp, and replaces a snapshot saved twice', async () => {
    await db.snapshotStore.save(snap('a', 5, { value: 'open', context: { n: 1 } }))
    await db.snapshotStore.save(snap('a', 5, { value: 'closed', context: { n: 2 } }))
    expect(await db.snapshotStore.load('a')).toEqual({
      persistenceId: 'a',
      seqNr: 5,
      state: { value: 'closed', context: { n: 2 } },
      machineVersion: 'v2',
      timestamp: 1234,
    })
    expect(await db.snapshotStore.count('a')).toBe(1)
  })

  it('keeps the newest N even when they are saved out of order', async () => {
    for (const seqNr of [30, 10, 40, 20]) await db.snapshotStore.save(snap('a', seqNr), { keepLast: 2 })
    expect(await db.snapshotStore.count('a')).toBe(2)
    expect((await db.snapshotStore.load('a'))?.seqNr).toBe(40)
  })

  it('surfaces database failures as SNAPSHOT_FAILURE', async () => {
    await adminQuery(
      `ALTER TABLE "${db.schema}".statesource_snapshot ADD CONSTRAINT no_big CHECK (seq_nr < 100)`,
    )
    const error = await db.snapshotStore.save(snap('a', 100)).catch((e: unknown) => e)
    expect(isStatesourceError(error, 'SNAPSHOT_FAILURE')).toBe(true)
    expect((error as Error).message).toContain('Saving the snapshot of "a" failed:')
  })
})

describe('offset store and transaction(fn)', () => {
  it('loads, saves and resets offsets per projection, and refuses a bad offset', async () => {
    expect(await db.offsetStore.load('p')).toBeUndefined()
    await db.offsetStore.save('p', 10)
    await db.offsetStore.save('p', 42)
    await db.offsetStore.save('q', 7)
    expect(await db.offsetStore.load('p')).toBe(42)
    expect(await db.offsetStore.load('q')).toBe(7)
    // A late checkpoint never rewinds an offset; only reset moves it back.
    await db.offsetStore.save('p', 30)
    expect(await db.offsetStore.load('p')).toBe(42)
    await db.offsetStore.reset('p')
    expect(await db.offsetStore.load('p')).toBeUndefined()
    await expect(db.offsetStore.save('p', 1.5)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(db.offsetStore.save('p', -1)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  })

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

describe('schedule store', () => {
  it('lists pending schedules earliest first and settles each one once', async () => {
    const store = db.scheduleStore
    await store.add(entry('b', 20))
    await store.add(entry('a', 20))
    await store.add(entry('c', 10))
    expect((await store.pending()).map((s) => s.id)).toEqual(['c', 'a', 'b'])
    expect(await store.settle('a', { status: 'fired', at: 30 })).toBe(true)
    expect(await store.settle('a', { status: 'cancelled', at: 31 })).toBe(false)
    expect(await store.settle('missing', { status: 'fired', at: 31 })).toBe(false)
    expect(await store.settle('b', { status: 'failed', at: 32, error: 'rejected' })).toBe(true)
    expect((await store.pending()).map((s) => s.id)).toEqual(['c'])
    expect(await store.get('a')).toEqual({ ...entry('a', 20), status: 'fired', settledAt: 30 })
    expect(await store.get('b')).toMatchObject({ status: 'failed', settledAt: 32, error: 'rejected' })
    expect(await store.purge(32)).toBe(1)
    expect(await store.get('a')).toBeUndefined()
  })

  it('refuses a schedule id it already holds, and keeps pending ones across a reopen', async () => {
    await db.scheduleStore.add(entry('x', 1))
    await expect(db.scheduleStore.add(entry('x', 2))).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: 'A schedule with id "x" already exists. Use a new schedule id, or cancel the old one first.',
    })
    const again = await openPostgres(pgUrl(), { schema: db.schema, listen: false })
    expect(await again.scheduleStore.pending()).toEqual([entry('x', 1)])
    await again.close()
  })
})

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
