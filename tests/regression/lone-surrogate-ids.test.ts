import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CqrsPattern, createInMemoryJournal, isStatesourceError, silentLogger } from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import { describe, expect, it } from 'vitest'
import { counter } from './fixtures.ts'

// Defect: ids with a lone UTF-16 surrogate were accepted and stored as U+FFFD, so '\uD800' and '\uDBFF'
// became one persistence id in SQLite. Text that cannot round-trip is now refused with INVALID_INPUT.
describe('ids and tags that are not well-formed Unicode', () => {
  it('are refused at the repository and at the journal, and never merge two aggregates', async () => {
    const sqlite = await openSqlite(join(mkdtempSync(join(tmpdir(), 'statesource-surrogate-')), 'app.db'))
    for (const journal of [createInMemoryJournal(), sqlite.journal]) {
      const handles = await CqrsPattern.builder({ journal })
        .withAggregate(counter)
        .logger(silentLogger)
        .build()
        .materialize()
      const counters = handles.repository(counter)
      for (const id of ['\uD800', 'x\uDC00', '\uDBFFy']) {
        const error = await counters.send(id, { type: 'add', n: 1, step: 1 }).catch((e: unknown) => e)
        expect(isStatesourceError(error, 'INVALID_INPUT')).toBe(true)
        expect((error as Error).message).toMatch(/^The aggregate id ".*" is not well-formed Unicode/)
        await expect(counters.state(id)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
      }
      const [outcome] = await journal.append([
        {
          persistenceId: 'counter|\uD800',
          expectedSeqNr: 0,
          events: [{ type: 'added', version: 1, payload: {}, tags: [], metadata: {} }],
        },
      ])
      expect(outcome?.ok).toBe(false)
      // Well-formed look-alikes stay apart.
      await counters.send('\uFFFD', { type: 'add', n: 1, step: 1 })
      await counters.send('\u{1F600}', { type: 'add', n: 2, step: 1 })
      expect((await counters.state('\uFFFD')).context.total).toBe(1)
      expect((await journal.replay('counter|\u{1F600}')).map((e) => e.persistenceId)).toEqual([
        'counter|\u{1F600}',
      ])
      await handles.stop()
    }
    await sqlite.close()
  })
})
