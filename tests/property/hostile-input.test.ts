import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CqrsPattern,
  createInMemoryJournal,
  isStatesourceError,
  type Journal,
  silentLogger,
} from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { counter } from '../regression/fixtures.ts'

// Fuzzing ids, tags and payloads: every input either round-trips exactly or is refused with INVALID_INPUT
// (never stored changed, never merged with another). Strings are drawn from every UTF-16 code unit, so lone
// surrogates and NUL come up; fixed cases add 10 kB ids and `__proto__` keys.

const SEED = Number(process.env.STATESOURCE_PROPERTY_SEED ?? Date.now() % 2 ** 31)
const dir = mkdtempSync(join(tmpdir(), 'statesource-fuzz-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom('\uD800', '\uDC00', '\u0000', 'a', '|', '\uFFFD', '\u{1F600}', '"', "'"),
    maxLength: 12,
  }),
)
const isWellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed()

/** A JSON value with hostile keys: built with JSON.parse, so `__proto__` is an own key as it is on the wire. */
const payload = fc
  .dictionary(
    fc.oneof(text, fc.constantFrom('__proto__', 'constructor', 'prototype', '')),
    fc.oneof(text, fc.integer(), fc.constant(null)),
    { maxKeys: 5 },
  )
  .map(
    (o) =>
      JSON.parse(`{"__proto__": {"polluted": true}, "x": ${JSON.stringify(o)}}`) as Record<string, unknown>,
  )

const journals: [string, () => Promise<{ journal: Journal; close(): Promise<void> }>][] = [
  ['in-memory', async () => ({ journal: createInMemoryJournal(), close: async () => {} })],
  [
    'SQLite file',
    async () => {
      const sqlite = await openSqlite(join(dir, `f-${Math.random().toString(16).slice(2)}.db`))
      return { journal: sqlite.journal, close: () => sqlite.close() }
    },
  ],
]

describe('hostile ids, tags and payloads (fuzz)', () => {
  for (const [name, open] of journals) {
    it(`round-trip exactly or are refused with INVALID_INPUT at the journal: ${name}`, async () => {
      console.log(`fuzz journal (${name}): 150 runs, seed ${SEED}`)
      const { journal, close } = await open()
      let n = 0
      try {
        await fc.assert(
          fc.asyncProperty(text, fc.array(text, { maxLength: 3 }), payload, async (id, tags, body) => {
            const persistenceId = `fuzz-${n++}|${id}`
            const [outcome] = await journal.append([
              {
                persistenceId,
                expectedSeqNr: 0,
                events: [{ type: 'fuzzed', version: 1, payload: body, tags, metadata: {} }],
              },
            ])
            const wellFormed = isWellFormed(id) && tags.every(isWellFormed)
            if (!wellFormed) {
              expect(outcome?.ok).toBe(false)
              expect(
                isStatesourceError(outcome && !outcome.ok ? outcome.error : undefined, 'INVALID_INPUT'),
              ).toBe(true)
              return
            }
            expect(outcome?.ok).toBe(true)
            const [stored] = await journal.replay(persistenceId)
            expect(stored?.persistenceId).toBe(persistenceId)
            expect(stored?.tags).toEqual(tags)
            expect(JSON.stringify(stored?.payload)).toBe(JSON.stringify(body))
            expect(Object.hasOwn(stored?.payload as object, '__proto__')).toBe(true)
            expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
          }),
          { numRuns: 150, seed: SEED },
        )
      } finally {
        await close()
      }
    }, 120_000)
  }

  it('through the repository: ids either serve their own aggregate or are refused, 10 kB ids included', async () => {
    console.log(`fuzz repository: 200 runs, seed ${SEED}`)
    const sqlite = await openSqlite(join(dir, 'repository.db'))
    const handles = await CqrsPattern.builder({ journal: sqlite.journal })
      .withAggregate(counter)
      .logger(silentLogger)
      .build()
      .materialize()
    const counters = handles.repository(counter)
    const totals = new Map<string, number>()
    try {
      const ids = fc.oneof(
        text,
        fc.constantFrom('x'.repeat(10_000), `${'é'.repeat(5_000)}\u0000`, '__proto__', 'constructor'),
      )
      await fc.assert(
        fc.asyncProperty(ids, fc.integer({ min: 1, max: 9 }), async (id, n) => {
          const result = await counters.send(id, { type: 'add', n, step: 1 }).catch((e: unknown) => e)
          // Refused: empty, not well-formed, or a persistence id over the journal's default 1,024-byte limit.
          if (id.length === 0 || !isWellFormed(id) || Buffer.byteLength(`counter|${id}`) > 1_024) {
            expect(isStatesourceError(result, 'INVALID_INPUT')).toBe(true)
            return
          }
          expect(result).toMatchObject({ persistenceId: `counter|${id}` })
          totals.set(id, (totals.get(id) ?? 0) + n)
          expect((await counters.state(id)).context.total).toBe(totals.get(id))
        }),
        { numRuns: 200, seed: SEED },
      )
      // Every id that was accepted is its own stream, stored exactly.
      for (const [id, total] of totals) {
        const events = await sqlite.journal.replay(`counter|${id}`)
        expect(events.every((e) => e.persistenceId === `counter|${id}`)).toBe(true)
        expect(events.reduce((sum, e) => sum + (e.payload as { n: number }).n, 0)).toBe(total)
      }
    } finally {
      await handles.stop()
      await sqlite.close()
    }
  }, 120_000)
})
