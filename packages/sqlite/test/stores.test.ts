import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isStatesourceError } from '@statesource/core'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type StatesourceSqlite, fromKysely, openSqlite } from '../src/open-sqlite.ts'
import { createSqliteTransactionalOffsetStore, sqliteOffsets } from '../src/sqlite-projection.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-stores-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let files = 0

let sqlite: StatesourceSqlite
beforeEach(async () => {
  sqlite = await openSqlite(path.join(dir, `stores-${files++}.db`))
})
afterEach(() => sqlite.close())

const snap = (persistenceId: string, seqNr: number, state: unknown = { seqNr }) => ({
  persistenceId,
  seqNr,
  state,
  machineVersion: 'v2',
  timestamp: 1234,
})

describe('snapshot store', () => {
  it('round-trips state, machine version and timestamp, and replaces a snapshot saved twice', async () => {
    await sqlite.snapshotStore.save(snap('a', 5, { value: 'open', context: { n: 1 } }))
    await sqlite.snapshotStore.save(snap('a', 5, { value: 'closed', context: { n: 2 } }))
    expect(await sqlite.snapshotStore.load('a')).toEqual({
      persistenceId: 'a',
      seqNr: 5,
      state: { value: 'closed', context: { n: 2 } },
      machineVersion: 'v2',
      timestamp: 1234,
    })
    expect(await sqlite.snapshotStore.count('a')).toBe(1)
  })

  it('keeps the newest N even when they are saved out of order', async () => {
    for (const seqNr of [30, 10, 40, 20]) await sqlite.snapshotStore.save(snap('a', seqNr), { keepLast: 2 })
    expect(await sqlite.snapshotStore.count('a')).toBe(2)
    expect((await sqlite.snapshotStore.load('a'))?.seqNr).toBe(40)
    await sqlite.snapshotStore.deleteTo('a', 39)
    expect((await sqlite.snapshotStore.load('a'))?.seqNr).toBe(40)
  })

  it('rejects a state that is not JSON with SERIALIZATION_FAILED and stores nothing', async () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    await expect(sqlite.snapshotStore.save(snap('a', 1, cyclic))).rejects.toMatchObject({
      code: 'SERIALIZATION_FAILED',
    })
    await expect(sqlite.snapshotStore.save(snap('a', 1, { f: () => 1 }))).rejects.toThrow(
      'Snapshot of "a" cannot be stored: property "f" is a function. Store plain JSON data only.',
    )
    expect(await sqlite.snapshotStore.count('a')).toBe(0)
  })

  it('surfaces database failures as SNAPSHOT_FAILURE', async () => {
    sqlite.db!.exec(`CREATE TEMP TRIGGER no_snapshots BEFORE INSERT ON statesource_snapshot
      BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END`)
    const error = await sqlite.snapshotStore.save(snap('a', 1)).catch((e: unknown) => e)
    expect(isStatesourceError(error, 'SNAPSHOT_FAILURE')).toBe(true)
    expect((error as Error).message).toContain('Saving the snapshot of "a" failed: disk full (simulated).')
  })
})

describe('offset store', () => {
  it('loads, saves and resets offsets per projection', async () => {
    expect(await sqlite.offsetStore.load('p')).toBeUndefined()
    await sqlite.offsetStore.save('p', 10)
    await sqlite.offsetStore.save('p', 42)
    await sqlite.offsetStore.save('q', 7)
    expect(await sqlite.offsetStore.load('p')).toBe(42)
    expect(await sqlite.offsetStore.load('q')).toBe(7)
    await sqlite.offsetStore.reset('p')
    expect(await sqlite.offsetStore.load('p')).toBeUndefined()
    expect(await sqlite.offsetStore.load('q')).toBe(7)
  })

  it('rejects an offset that is not a non-negative integer', async () => {
    await expect(sqlite.offsetStore.save('p', 1.5)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(sqlite.offsetStore.save('p', -1)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  })
})

describe('transactional offset store', () => {
  it('keeps offsets in the offset table, rolled back with the transaction that wrote them', async () => {
    const offsets = createSqliteTransactionalOffsetStore(sqlite)
    offsets.transaction(() => offsets.saveOffset('p', 3))
    expect(() =>
      offsets.transaction(() => {
        offsets.saveOffset('p', 9)
        throw new Error('apply failed')
      }),
    ).toThrow('apply failed')
    expect(offsets.loadOffset('p')).toBe(3)
    expect(await sqlite.offsetStore.load('p')).toBe(3)
  })

  it('is still reachable under its deprecated name sqliteOffsets', () => {
    const offsets = sqliteOffsets(sqlite)
    offsets.saveOffset('q', 5)
    expect(createSqliteTransactionalOffsetStore(sqlite).loadOffset('q')).toBe(5)
  })
})

describe('transaction(fn)', () => {
  beforeEach(() => {
    sqlite.db!.exec('CREATE TABLE IF NOT EXISTS balances (id TEXT PRIMARY KEY, amount INTEGER NOT NULL)')
  })

  it('commits the read model and the offset together', () => {
    const result = sqlite.transaction((tx) => {
      tx.db.prepare('INSERT INTO balances (id, amount) VALUES (?, ?)').run('acc-1', 10)
      tx.offsets.save('balances', 7)
      return tx.offsets.load('balances')
    })
    expect(result).toBe(7)
    expect(sqlite.db!.prepare('SELECT amount FROM balances').pluck().get()).toBe(10)
  })

  it('rolls both back when fn throws', async () => {
    await sqlite.offsetStore.save('balances', 3)
    expect(() =>
      sqlite.transaction((tx) => {
        tx.db.prepare('INSERT INTO balances (id, amount) VALUES (?, ?)').run('acc-1', 10)
        tx.offsets.save('balances', 7)
        throw new Error('projection failed')
      }),
    ).toThrow('projection failed')
    expect(sqlite.db!.prepare('SELECT count(*) FROM balances').pluck().get()).toBe(0)
    expect(await sqlite.offsetStore.load('balances')).toBe(3)
  })

  it('refuses an async function and rolls back what it did synchronously', async () => {
    expect(() =>
      sqlite.transaction(async (tx) => {
        tx.offsets.save('balances', 9)
      }),
    ).toThrow(/must be synchronous/)
    expect(await sqlite.offsetStore.load('balances')).toBeUndefined()
  })

  it('nests as a savepoint in itself but refuses to join a kyselyTransaction in progress', async () => {
    sqlite.transaction((outer) => {
      outer.offsets.save('balances', 1)
      expect(() =>
        sqlite.transaction((inner) => {
          inner.offsets.save('balances', 2)
          throw new Error('inner only')
        }),
      ).toThrow('inner only')
    })
    expect(await sqlite.offsetStore.load('balances')).toBe(1)
    await sqlite.kyselyTransaction(async () => {
      expect(() => sqlite.transaction(() => undefined)).toThrow(/another transaction .* is open/)
    })
  })

  it('resets an offset inside the transaction', async () => {
    await sqlite.offsetStore.save('balances', 3)
    sqlite.transaction((tx) => {
      tx.db.prepare('DELETE FROM balances').run()
      tx.offsets.reset('balances')
    })
    expect(await sqlite.offsetStore.load('balances')).toBeUndefined()
  })
})

describe('kyselyTransaction(fn)', () => {
  it('commits or rolls back read model and offset together, also through fromKysely', async () => {
    const database = new Database(path.join(dir, `kysely-${files++}.db`))
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database }) })
    const viaKysely = await fromKysely(kysely)
    try {
      for (const target of [sqlite, viaKysely]) {
        await target.kysely.schema
          .createTable('counts')
          .ifNotExists()
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('n', 'integer')
          .execute()
        const counts = () => target.kysely.withTables<{ counts: { id: string; n: number } }>()
        await target.kyselyTransaction(async (tx) => {
          await tx.kysely
            .withTables<{ counts: { id: string; n: number } }>()
            .insertInto('counts')
            .values({ id: 'a', n: 1 })
            .execute()
          await tx.offsets.save('counts', 5)
        })
        await expect(
          target.kyselyTransaction(async (tx) => {
            await tx.kysely
              .withTables<{ counts: { id: string; n: number } }>()
              .insertInto('counts')
              .values({ id: 'b', n: 2 })
              .execute()
            await tx.offsets.save('counts', 6)
            throw new Error('undo')
          }),
        ).rejects.toThrow('undo')
        expect(await counts().selectFrom('counts').select('id').execute()).toEqual([{ id: 'a' }])
        expect(await target.offsetStore.load('counts')).toBe(5)
      }
    } finally {
      await viaKysely.close()
      await kysely.destroy()
    }
  })
})
