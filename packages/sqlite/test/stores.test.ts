import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInMemoryScheduleStore } from '@statesource/core'
import { describeScheduleStoreSuite, describeStoreSuite } from '@statesource/test-support/store-suite'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fromKysely, openSqlite, type StatesourceSqlite } from '../src/open-sqlite.ts'
import { createSqliteTransactionalOffsetStore, sqliteOffsets } from '../src/sqlite-projection.ts'
import { createSqliteScheduleStore } from '../src/sqlite-schedule-store.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-stores-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let files = 0

describeStoreSuite('SQLite file', async () => {
  const file = path.join(dir, `suite-${files++}.db`)
  const opened = [await openSqlite(file)]
  const sqlite = opened[0]!
  return {
    snapshotStore: sqlite.snapshotStore,
    offsetStore: sqlite.offsetStore,
    scheduleStore: await createSqliteScheduleStore(sqlite),
    refuseSnapshotWrites: async () => {
      sqlite.db!.exec(`CREATE TEMP TRIGGER no_snapshots BEFORE INSERT ON statesource_snapshot
        BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END`)
      return 'disk full (simulated).'
    },
    reopenScheduleStore: async () => {
      const again = await openSqlite(file)
      opened.push(again)
      return createSqliteScheduleStore(again)
    },
    dispose: async () => {
      for (const each of opened) await each.close()
    },
  }
})

describeScheduleStoreSuite('in memory', () => ({ scheduleStore: createInMemoryScheduleStore() }))

describe('transactions on an SQLite file', () => {
  let sqlite: StatesourceSqlite
  beforeEach(async () => {
    sqlite = await openSqlite(path.join(dir, `stores-${files++}.db`))
  })
  afterEach(() => sqlite.close())

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
})
