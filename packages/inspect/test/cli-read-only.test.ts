import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { CqrsPattern } from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { runCli } from '../src/index.ts'
import { order, tempDir } from './fixtures.ts'

const fixtures = join(import.meta.dirname, 'fixtures.ts')

function capture() {
  const lines: string[] = []
  return { lines, io: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) } }
}

/** What a file holds: its tables and its journal mode (WAL is stored in the file). */
function describeFile(file: string) {
  const db = new Database(file, { readonly: true })
  try {
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
    )
      .map((r) => r.name)
      .sort()
    return { tables, journalMode: db.pragma('journal_mode', { simple: true }) }
  } finally {
    db.close()
  }
}

function usersOnly(dir: string): string {
  const file = join(dir, 'users.db')
  const db = new Database(file)
  db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)')
  db.close()
  return file
}

describe('statesource view and check open databases read-only', () => {
  it('refuses a database without statesource tables and leaves it exactly as it was', async () => {
    const dir = tempDir()
    const empty = join(dir, 'empty.db')
    writeFileSync(empty, '')
    for (const file of [usersOnly(dir), empty]) {
      const before = describeFile(file)
      for (const argv of [
        ['check', '--aggregates', fixtures, file],
        ['view', file, '--port', '0'],
      ]) {
        const { lines, io } = capture()
        const code = await runCli(argv, { ...io, untilStopped: async () => {} })
        expect(code).not.toBe(0)
        expect(lines.at(-1)).toContain('has no statesource tables: it is not a statesource database')
      }
      expect(describeFile(file)).toEqual(before)
    }
    expect(describeFile(join(dir, 'users.db'))).toEqual({ tables: ['users'], journalMode: 'delete' })
  })

  it('says a garbage file is not SQLite without suggesting to create one', async () => {
    const file = join(tempDir(), 'garbage.db')
    writeFileSync(file, 'this is not a database at all, just some text that is long enough '.repeat(20))
    const { lines, io } = capture()
    expect(await runCli(['check', '--aggregates', fixtures, file], io)).toBe(1)
    expect(lines.at(-1)).toContain('is not an SQLite database')
    expect(lines.at(-1)).not.toContain('does not exist yet')
  })

  it('audits a statesource database without writing to it', async () => {
    const file = join(tempDir(), 'orders.db')
    const sqlite = await openSqlite(file)
    const handles = await CqrsPattern.builder({ journal: sqlite.journal })
      .withAggregate(order)
      .build()
      .materialize()
    await handles.repository(order).send('o-1', { type: 'addItem', sku: 'tea', price: 4 })
    await handles.stop()
    await sqlite.close()
    const before = describeFile(file)
    const { lines, io } = capture()
    expect(await runCli(['check', '--aggregates', fixtures, file], io)).toBe(0)
    expect(lines.at(-1)).toContain('journal audit: 1 streams, 1 events, 0 broken')
    expect(describeFile(file)).toEqual(before)
  })

  it('names --port when the port is not a number or is taken', async () => {
    const file = join(tempDir(), 'orders.db')
    await (await openSqlite(file)).close()
    for (const port of ['abc', '-1', '70000', '12.5']) {
      const { lines, io } = capture()
      expect(await runCli(['view', file, `--port=${port}`], io)).toBe(1)
      expect(lines.at(-1)).toContain(`--port must be an integer from 0 to 65535, got "${port}"`)
    }
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const { lines, io } = capture()
      expect(
        await runCli(['view', file, '--port', String(port)], { ...io, untilStopped: async () => {} }),
      ).toBe(1)
      expect(lines.at(-1)).toContain(`Port ${port} is already in use. Pass another one with --port <n>`)
    } finally {
      await new Promise((resolve) => taken.close(resolve))
    }
  })
})
