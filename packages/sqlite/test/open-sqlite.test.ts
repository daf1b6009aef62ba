import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isStatesourceError } from '@statesource/core'
import { appendRequest, newEvent } from '@statesource/core/testing'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { fromKysely, openSqlite } from '../src/open-sqlite.ts'
import { SQLITE_DEFAULTS } from '../src/sqlite-defaults.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-open-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let files = 0
const newFile = () => path.join(dir, `db-${files++}.db`)

async function openError(file: string): Promise<unknown> {
  try {
    const sqlite = await openSqlite(file)
    await sqlite.close()
  } catch (error) {
    return error
  }
  throw new Error(`opening ${file} did not fail`)
}

describe('openSqlite', () => {
  it('is durable by default: WAL, synchronous FULL and a 5 s busy timeout', async () => {
    const sqlite = await openSqlite(newFile())
    const db = sqlite.db!
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('synchronous', { simple: true })).toBe(2) // FULL: an acknowledged commit survives power loss
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000)
    expect(SQLITE_DEFAULTS).toMatchObject({ synchronous: 'FULL', busyTimeoutMs: 5000 })
    await sqlite.close()
  })

  it('applies synchronous NORMAL (the opt-in), the busy timeout and wal_autocheckpoint when asked', async () => {
    const sqlite = await openSqlite(newFile(), {
      synchronous: 'NORMAL',
      busyTimeoutMs: 250,
      walAutocheckpoint: 5000,
    })
    const db = sqlite.db!
    expect(db.pragma('synchronous', { simple: true })).toBe(1) // NORMAL
    expect(db.pragma('busy_timeout', { simple: true })).toBe(250)
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(5000)
    await sqlite.close()
  })

  it('rejects bad options with INVALID_INPUT', async () => {
    await expect(openSqlite(newFile(), { synchronous: 'OFF' as 'FULL' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(openSqlite(newFile(), { busyTimeoutMs: -1 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
  })

  it('creates the schema once, under its own migration tables, and reopens the same data', async () => {
    const file = newFile()
    const first = await openSqlite(file)
    await first.journal.append([appendRequest('p', [newEvent('x', { a: 1 })])])
    await first.close()
    const second = await openSqlite(file)
    expect(await second.journal.replay('p')).toMatchObject([{ seqNr: 1, payload: { a: 1 } }])
    const tables = second
      .db!.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'statesource%' ORDER BY name",
      )
      .pluck()
      .all()
    expect(tables).toEqual([
      'statesource_event_tag',
      'statesource_journal',
      'statesource_migration',
      'statesource_migration_lock',
      'statesource_projection_offset',
      'statesource_snapshot',
      'statesource_stream',
    ])
    expect(second.db!.prepare('SELECT name FROM statesource_migration').pluck().all()).toEqual([
      '0001_journal',
    ])
    await second.close()
  })

  it('leaves the tables of the application alone', async () => {
    const file = newFile()
    const app = new Database(file)
    app.exec("CREATE TABLE orders (id TEXT PRIMARY KEY); INSERT INTO orders VALUES ('o-1')")
    app.close()
    const sqlite = await openSqlite(file)
    expect(sqlite.db!.prepare('SELECT id FROM orders').pluck().all()).toEqual(['o-1'])
    await sqlite.close()
  })

  it('refuses a file that is not an SQLite database, saying what to do', async () => {
    const file = newFile()
    fs.writeFileSync(file, 'this is a text file, not a database\n'.repeat(200))
    const error = await openError(file)
    expect(isStatesourceError(error, 'SCHEMA_MISMATCH')).toBe(true)
    expect((error as Error).message).toBe(
      `"${file}" is not an SQLite database (SQLite says: file is not a database). Open a statesource database, or a path that does not exist yet to create one.`,
    )
    // The file is untouched.
    expect(fs.readFileSync(file, 'utf8').startsWith('this is a text file')).toBe(true)
  })

  it('refuses a database whose statesource schema is newer than this code', async () => {
    const file = newFile()
    const sqlite = await openSqlite(file)
    sqlite
      .db!.prepare('INSERT INTO statesource_migration (name, timestamp) VALUES (?, ?)')
      .run('0002_future', 'now')
    await sqlite.close()
    const error = await openError(file)
    expect(isStatesourceError(error, 'SCHEMA_MISMATCH')).toBe(true)
    expect((error as Error).message).toBe(
      `"${file}" has a newer statesource schema than this version of @statesource/sqlite understands (unknown migrations: "0002_future"). Upgrade @statesource/sqlite to the version that wrote it.`,
    )
  })

  it("shares a file with the application's own tables and leaves them alone", async () => {
    const file = newFile()
    const app = new Database(file)
    app.exec("CREATE TABLE customers (id TEXT PRIMARY KEY); INSERT INTO customers VALUES ('c-1')")
    app.close()
    const sqlite = await openSqlite(file)
    const rows = sqlite.db!.prepare('SELECT id FROM customers').all()
    expect(rows).toEqual([{ id: 'c-1' }])
    const [outcome] = await sqlite.journal.append([appendRequest('s-1', [newEvent('x')])])
    expect(outcome?.ok).toBe(true)
    await sqlite.close()
  })

  it('refuses a statesource_journal table it did not create', async () => {
    const file = newFile()
    const other = new Database(file)
    other.exec('CREATE TABLE statesource_journal (id INTEGER PRIMARY KEY, body TEXT)')
    other.close()
    const error = await openError(file)
    expect(isStatesourceError(error, 'SCHEMA_MISMATCH')).toBe(true)
    expect((error as Error).message).toContain('it was not created by @statesource/sqlite')
  })

  it('fails with JOURNAL_FAILURE when the directory does not exist', async () => {
    const error = await openError(path.join(dir, 'missing', 'deeper', 'x.db'))
    expect(isStatesourceError(error, 'JOURNAL_FAILURE')).toBe(true)
    expect((error as Error).message).toContain(
      'Check that the path is writable and that its directory exists.',
    )
  })

  it('migrates safely when two connections open a new file at the same time', async () => {
    const file = newFile()
    const [a, b] = await Promise.all([openSqlite(file), openSqlite(file)])
    await a.journal.append([appendRequest('p', [newEvent('x')])])
    expect(await b.journal.highestSeqNr('p')).toBe(1)
    await a.close()
    await b.close()
  })
})

describe('fromKysely', () => {
  it('uses the given instance, applies only the pragmas asked for, and leaves it open on close', async () => {
    const database = new Database(newFile())
    database.pragma('journal_mode = WAL')
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database }) })
    const sqlite = await fromKysely(kysely, { synchronous: 'FULL', busyTimeoutMs: 1234 })
    expect(sqlite.db).toBeUndefined()
    expect(database.pragma('synchronous', { simple: true })).toBe(2)
    expect(database.pragma('busy_timeout', { simple: true })).toBe(1234)
    expect(() => sqlite.transaction(() => undefined)).toThrow(/use kyselyTransaction/i)
    await sqlite.close()
    expect(database.open).toBe(true)
    expect(await kysely.selectFrom('statesource_journal').selectAll().execute()).toEqual([])
    await kysely.destroy()
  })

  it('refuses a non-SQLite file behind the instance', async () => {
    const file = newFile()
    fs.writeFileSync(file, 'x'.repeat(4096))
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(file) }) })
    await expect(fromKysely(kysely)).rejects.toMatchObject({
      code: 'SCHEMA_MISMATCH',
      message: expect.stringContaining("The Kysely instance's database is not an SQLite database"),
    })
    await kysely.destroy()
  })
})
