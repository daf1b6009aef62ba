import { appendRequest, newEvent } from '@statesource/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SQL } from '../src/journal-sql.ts'
import { openSqlite, type StatesourceSqlite } from '../src/open-sqlite.ts'

let sqlite: StatesourceSqlite
beforeAll(async () => {
  sqlite = await openSqlite(':memory:')
  for (let i = 0; i < 20; i++) {
    await sqlite.journal.append([
      appendRequest(`p-${i}`, [newEvent('x', { i }, { tags: ['t', `t-${i % 3}`] })]),
    ])
  }
  sqlite.db!.exec('ANALYZE')
})
afterAll(() => sqlite.close())

const plan = (statement: string, params: unknown[]) =>
  (sqlite.db!.prepare(`EXPLAIN QUERY PLAN ${statement}`).all(...params) as { detail: string }[])
    .map((row) => row.detail)
    .join(' | ')

describe('query plans', () => {
  it.each([
    ['a page of', SQL.byPersistenceId, ['p-1', 1, 10, 500]],
    ['all of (recovery)', SQL.byPersistenceIdUnlimited, ['p-1', 1, 10]],
  ])('reads %s one stream through the (persistence_id, seq_nr) index', (_, statement, params) => {
    const detail = plan(statement, params)
    expect(detail).toMatch(
      /SEARCH statesource_journal USING INDEX sqlite_autoindex_statesource_journal_1 \(persistence_id=\? AND seq_nr>\? AND seq_nr<\?\)/,
    )
    expect(detail).not.toMatch(/SCAN|TEMP B-TREE/)
  })

  it('reads a tag through the tag primary key, then the journal by ordering', () => {
    const detail = plan(SQL.byTag, ['t', 0, 500])
    expect(detail).toMatch(/SEARCH t USING PRIMARY KEY \(tag=\? AND ordering>\?\)/)
    expect(detail).toMatch(/SEARCH j USING INTEGER PRIMARY KEY \(rowid=\?\)/)
    expect(detail).not.toMatch(/SCAN|TEMP B-TREE/)
  })

  it('reads all events by the ordering primary key', () => {
    expect(plan(SQL.all, [0, 500])).toBe('SEARCH statesource_journal USING INTEGER PRIMARY KEY (rowid>?)')
  })

  it('lists persistence ids by position and checks versions through covering indexes', () => {
    expect(plan(SQL.persistenceIds, [0, 500])).toMatch(
      /SEARCH statesource_stream USING INDEX .* \(position>\?\)/,
    )
    const current = plan(SQL.currentSeqNr, ['p-1', 'p-1'])
    expect(current).toMatch(
      /SEARCH statesource_journal USING COVERING INDEX sqlite_autoindex_statesource_journal_1 \(persistence_id=\?\)/,
    )
    expect(current).toMatch(
      /SEARCH statesource_stream USING INDEX sqlite_autoindex_statesource_stream_1 \(persistence_id=\?\)/,
    )
    expect(current).not.toMatch(/SCAN statesource/)
  })
})
