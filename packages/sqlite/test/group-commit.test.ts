import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type AppendOutcome, isStatesourceError } from '@statesource/core'
import { appendRequest, newEvent } from '@statesource/core/testing'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { fromKysely, openSqlite, type SqliteOptions, type StatesourceSqlite } from '../src/open-sqlite.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-group-commit-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let files = 0
const newFile = () => path.join(dir, `journal-${files++}.db`)

const opened: StatesourceSqlite[] = []
afterEach(async () => {
  for (const sqlite of opened.splice(0)) await sqlite.close()
})
async function openWith(file: string, options: SqliteOptions = {}) {
  const sqlite = await openSqlite(file, options)
  opened.push(sqlite)
  return sqlite
}

describe('group commit on the application connection (inline writer)', () => {
  const open = (file = newFile(), options: SqliteOptions = {}) =>
    openWith(file, { ...options, writer: 'inline' })
  it('writes appends that arrive in the same turn in one transaction', async () => {
    const sqlite = await open()
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        sqlite.journal.append([appendRequest(`s-${i}`, [newEvent('created')])]),
      ),
    )
    expect(results.every(([outcome]) => outcome?.ok)).toBe(true)
    const stats = sqlite.journal.stats
    expect(stats.events).toBe(200)
    expect(stats.transactions).toBe(1)
    expect(stats.largestBatch).toBe(200)
  })

  it('flushes at once when maxBatchEvents events are queued', async () => {
    const sqlite = await open(newFile(), { maxBatchEvents: 10 })
    const pending = Array.from({ length: 25 }, (_, i) =>
      sqlite.journal.append([appendRequest(`m-${i}`, [newEvent('x')])]),
    )
    // Two batches of 10 were written synchronously, inside the append calls.
    expect(sqlite.journal.stats.transactions).toBe(2)
    await Promise.all(pending)
    expect(sqlite.journal.stats.transactions).toBe(3)
    expect(sqlite.journal.stats.events).toBe(25)
  })
})

describe('group commit on the writer thread', () => {
  it('merges the batches that wait for it into one transaction, committing in call order', async () => {
    const sqlite = await openWith(newFile())
    // Hold the write lock on the application's connection: the thread's first transaction waits for it
    // while the batches of the next turns queue up behind.
    sqlite.db!.exec('BEGIN IMMEDIATE')
    const results: Promise<AppendOutcome[]>[] = []
    for (let turn = 0; turn < 10; turn++) {
      for (let i = 0; i < 10; i++) {
        results.push(sqlite.journal.append([appendRequest(`s-${turn * 10 + i}`, [newEvent('created')])]))
      }
      await new Promise((resolve) => setImmediate(resolve)) // one batch per turn
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(sqlite.journal.stats.transactions).toBe(0)
    sqlite.db!.exec('COMMIT')
    const outcomes = await Promise.all(results)
    const orderings = outcomes.map(([outcome]) => (outcome?.ok ? outcome.envelopes[0]!.ordering : -1))
    expect(orderings).toEqual(Array.from({ length: 100 }, (_, i) => orderings[0]! + i))
    const stats = sqlite.journal.stats
    expect(stats.events).toBe(100)
    // Ten batches of 10 were posted; the first transaction took what had arrived, the second the rest.
    expect(stats.transactions).toBeLessThanOrEqual(2)
    expect(stats.largestBatch).toBeGreaterThanOrEqual(50)
    expect(stats.requests).toBe(100)
  })

  it.each([
    ['thread', 'a file', 'keeps the event loop free'],
    ['inline', 'an in-memory database', 'blocks the event loop'],
  ] as const)('writes on the %s writer for %s: a large transaction %s', async (writer, _, __) => {
    const sqlite = await openWith(writer === 'thread' ? newFile() : ':memory:')
    await sqlite.journal.append([appendRequest('warm', [newEvent('x')])])
    let ticks = 0
    const ticker = setInterval(() => ticks++, 1)
    try {
      // 20,000 events reach maxBatchEvents, so the batch is handed over inside the call.
      const events = Array.from({ length: 20_000 }, (_, i) => newEvent('bulk', { i, pad: 'x'.repeat(200) }))
      const pending = sqlite.journal.append([appendRequest('bulk', events)])
      const ticksBefore = ticks
      const [outcome] = await pending
      expect(outcome?.ok).toBe(true)
      if (writer === 'thread') expect(ticks - ticksBefore).toBeGreaterThan(0)
      else expect(ticks - ticksBefore).toBe(0)
    } finally {
      clearInterval(ticker)
    }
    expect(await sqlite.journal.highestSeqNr('bulk')).toBe(20_000)
  })

  it('writes a small batch on the application connection while the thread is idle, a large one on the thread', async () => {
    const sqlite = await openWith(newFile())
    // A TEMP trigger exists only on the connection that created it: it sees the inline writes alone.
    sqlite.db!.exec(`CREATE TEMP TABLE seen (pid TEXT);
      CREATE TEMP TRIGGER spy AFTER INSERT ON statesource_journal BEGIN INSERT INTO seen VALUES (NEW.persistence_id); END`)
    const seen = () => (sqlite.db!.prepare('SELECT pid FROM seen').pluck().all() as string[]).sort()
    await Promise.all([
      sqlite.journal.append([appendRequest('lone-1', [newEvent('x')])]),
      sqlite.journal.append([appendRequest('lone-2', [newEvent('x')])]),
    ])
    expect(seen()).toEqual(['lone-1', 'lone-2'])
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        sqlite.journal.append([appendRequest(`burst-${i}`, [newEvent('x')])]),
      ),
    )
    expect(seen()).toEqual(['lone-1', 'lone-2'])
    expect(await sqlite.journal.highestSeqNr('burst-39')).toBe(1)
    expect(sqlite.journal.stats).toMatchObject({ transactions: 2, events: 42 })
  })

  it('refuses an unknown writer', async () => {
    await expect(openSqlite(newFile(), { writer: 'threads' as 'thread' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining(`writer must be 'thread' or 'inline', got "threads"`),
    })
  })
})

describe.each(['thread', 'inline'] as const)('group commit (%s writer)', (writer) => {
  const open = (file = newFile(), options: SqliteOptions = {}) => openWith(file, { writer, ...options })
  it('uses far fewer transactions than appends under concurrent load', async () => {
    const sqlite = await open()
    await Promise.all(
      Array.from({ length: 50 }, async (_, worker) => {
        for (let seq = 0; seq < 20; seq++) {
          const [outcome] = await sqlite.journal.append([
            appendRequest(`w-${worker}`, [newEvent('counted', { seq })], { expectedSeqNr: seq }),
          ])
          if (!outcome?.ok) throw outcome?.error
        }
      }),
    )
    const stats = sqlite.journal.stats
    expect(stats.events).toBe(1000)
    expect(stats.requests).toBe(1000)
    expect(stats.transactions).toBeLessThanOrEqual(1000 / 10)
    for (let worker = 0; worker < 50; worker++) {
      const events = await sqlite.journal.replay(`w-${worker}`)
      expect(events.map((e) => e.payload)).toEqual(Array.from({ length: 20 }, (_, seq) => ({ seq })))
    }
  })

  it('fails only the conflicting request of a batch, across calls and within one', async () => {
    const sqlite = await open()
    await sqlite.journal.append([appendRequest('taken', [newEvent('x')])])
    const [first, second, third] = await Promise.all([
      sqlite.journal.append([appendRequest('a', [newEvent('x')])]),
      sqlite.journal.append([
        appendRequest('taken', [newEvent('x')]),
        appendRequest('b', [newEvent('x'), newEvent('y')]),
      ]),
      sqlite.journal.append([appendRequest('a', [newEvent('x')])]),
    ])
    expect(sqlite.journal.stats.transactions).toBe(2)
    expect(first?.map((o) => o.ok)).toEqual([true])
    expect(second?.map((o) => o.ok)).toEqual([false, true])
    expect(third?.map((o) => o.ok)).toEqual([false])
    const conflict = second?.[0]
    expect(conflict && !conflict.ok && isStatesourceError(conflict.error, 'CONCURRENCY_CONFLICT')).toBe(true)
    expect(conflict && !conflict.ok && conflict.error.message).toBe(
      '"taken" is at version 1, expected 0. Reload the aggregate and retry the command.',
    )
    // The second append to "a" in the same batch saw the first one's event.
    const late = third?.[0]
    expect(late && !late.ok && late.error.message).toContain('"a" is at version 1, expected 0')
    expect((await sqlite.journal.replay('a')).map((e) => e.seqNr)).toEqual([1])
    expect((await sqlite.journal.replay('b')).map((e) => e.seqNr)).toEqual([1, 2])
    expect(sqlite.journal.stats.conflicts).toBe(2)
  })

  it('chains requests to one stream inside one call', async () => {
    const sqlite = await open()
    const outcomes = await sqlite.journal.append([
      appendRequest('chain', [newEvent('a')]),
      appendRequest('chain', [newEvent('b'), newEvent('c')], { expectedSeqNr: 1 }),
      appendRequest('chain', [newEvent('stale')], { expectedSeqNr: 1 }),
    ])
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, false])
    expect((await sqlite.journal.replay('chain')).map((e) => e.type)).toEqual(['a', 'b', 'c'])
  })

  it('fails an unserializable request alone with SERIALIZATION_FAILED, before the transaction', async () => {
    const sqlite = await open()
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const [good, bad] = await Promise.all([
      sqlite.journal.append([appendRequest('good', [newEvent('ok', { when: new Date(0), n: 1 })])]),
      sqlite.journal.append([
        appendRequest('big', [newEvent('big', { n: 10n })]),
        appendRequest('cycle', [newEvent('cycle', { nested: [cyclic] })]),
        appendRequest('nan', [newEvent('nan', { n: Number.NaN })]),
        appendRequest('meta', [newEvent('meta', {}, { metadata: { f: () => 1 } })]),
        appendRequest('fine', [newEvent('fine', { list: [1, 'two', null, { deep: true }] })]),
      ]),
    ])
    expect(good?.[0]?.ok).toBe(true)
    expect(bad?.map((o) => o.ok)).toEqual([false, false, false, false, true])
    for (const outcome of bad ?? []) {
      if (!outcome.ok) expect(isStatesourceError(outcome.error, 'SERIALIZATION_FAILED')).toBe(true)
    }
    expect(bad?.[0] && !bad[0].ok && bad[0].error.message).toBe(
      'Event "big" payload cannot be stored: property "n" is a BigInt. Convert it to a string or number first.',
    )
    // Dates go through toJSON, as with core's toJson: the envelope holds what a replay gives back.
    const [stored] = await sqlite.journal.replay('good')
    expect(stored?.payload).toEqual({ when: '1970-01-01T00:00:00.000Z', n: 1 })
    expect(good?.[0]?.ok && good[0].envelopes[0]?.payload).toEqual(stored?.payload)
    expect(await sqlite.journal.highestSeqNr('cycle')).toBe(0)
    expect(await sqlite.journal.replay('fine')).toHaveLength(1)
  })

  it('rejects every call of a failed transaction with a JournalError and writes nothing', async () => {
    const sqlite = await open()
    // A trigger stands in for a disk failure halfway through the batch (not TEMP: the writer thread's
    // connection must see it too).
    sqlite.db!.exec(`CREATE TRIGGER boom BEFORE INSERT ON statesource_journal WHEN NEW.event_type = 'boom'
      BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated)'); END`)
    const calls = [
      sqlite.journal.append([appendRequest('before', [newEvent('x')])]),
      sqlite.journal.append([appendRequest('boom', [newEvent('boom')])]),
      sqlite.journal.append([appendRequest('after', [newEvent('x', {}, { tags: ['t'] })])]),
    ]
    for (const call of calls) {
      await expect(call).rejects.toMatchObject({ name: 'JournalError', code: 'JOURNAL_FAILURE' })
    }
    await expect(calls[0]).rejects.toThrow(
      'Appending to the journal failed: disk I/O error (simulated). Nothing from this append was written; retry it.',
    )
    expect(sqlite.journal.stats.failedTransactions).toBe(1)
    expect(await sqlite.readJournal().highestOrdering()).toBe(0)
    for (const id of ['before', 'boom', 'after']) expect(await sqlite.journal.highestSeqNr(id)).toBe(0)
    // The writer keeps working afterwards, and the rolled-back heads were forgotten.
    sqlite.db!.exec('DROP TRIGGER boom')
    const [retry] = await sqlite.journal.append([appendRequest('before', [newEvent('x')])])
    expect(retry?.ok).toBe(true)
  })

  it('rejects invalid requests with INVALID_INPUT and keeps the others', async () => {
    const sqlite = await open()
    const outcomes = await sqlite.journal.append([
      appendRequest('', [newEvent('x')]),
      appendRequest('neg', [newEvent('x')], { expectedSeqNr: -1 }),
      appendRequest('tag', [newEvent('x', {}, { tags: [42 as unknown as string] })]),
      appendRequest('ok', [newEvent('x')]),
    ])
    expect(outcomes.map((o) => (o.ok ? 'ok' : (o.error as { code?: string }).code))).toEqual([
      'INVALID_INPUT',
      'INVALID_INPUT',
      'INVALID_INPUT',
      'ok',
    ])
  })

  it('stores hostile ids, tags and types exactly, including 10 kB ones (limits raised)', async () => {
    const limits = { maxPersistenceIdBytes: 20_000, maxEventTypeBytes: 20_000, maxTagBytes: 20_000 }
    const sqlite = await open(undefined, { limits })
    const hostile = [
      `'; DROP TABLE statesource_journal; --`,
      'quote " and \' and ` backtick; semicolon;',
      'unicode ü 😀 \u202e rtl \u0000 nul',
      `long-${'x'.repeat(10_000)}`,
      'percent % underscore _ backslash \\',
    ]
    for (const id of hostile) {
      const [outcome] = await sqlite.journal.append([
        appendRequest(id, [newEvent(id, { id }, { tags: [id, id, `${id}-2`] })]),
      ])
      expect(outcome?.ok).toBe(true)
    }
    for (const id of hostile) {
      const [stored] = await sqlite.journal.replay(id)
      expect(stored).toMatchObject({
        persistenceId: id,
        type: id,
        payload: { id },
        tags: [id, id, `${id}-2`],
      })
      const tagged = await lastValueFrom(sqlite.readJournal().currentEventsByTag(id).pipe(toArray()))
      expect(tagged.map((e) => e.persistenceId)).toEqual([id])
    }
    const ids = await lastValueFrom(sqlite.readJournal().currentPersistenceIds().pipe(toArray()))
    expect(ids).toEqual(hostile)
    expect(await lastValueFrom(sqlite.readJournal().currentEventsByTag('%').pipe(toArray()))).toEqual([])
  })

  it('wakes live queries of this process right after each commit', async () => {
    const sqlite = await open()
    // A poll interval far above the test timeout: only the wake-up can deliver in time.
    const live = sqlite.readJournal({ pollIntervalMs: 3_600_000 })
    const seen = firstValueFrom(live.eventsByTag('hot').pipe(take(2), toArray()))
    const commits = firstValueFrom(sqlite.journal.commits.pipe(take(1)))
    await new Promise((resolve) => setTimeout(resolve, 10))
    const [outcome] = await sqlite.journal.append([
      appendRequest('h', [newEvent('x', {}, { tags: ['hot'] }), newEvent('y', {}, { tags: ['hot'] })]),
    ])
    expect((await seen).map((e) => e.type)).toEqual(['x', 'y'])
    const ordering = outcome?.ok ? outcome.envelopes[1]?.ordering : undefined
    const commit = await commits
    expect(commit).toMatchObject({ lastOrdering: ordering, events: 2 })
    // Stamped when the transaction committed: before this thread heard of it, and not long before.
    expect(commit.committedAt).toBeLessThanOrEqual(performance.timeOrigin + performance.now())
    expect(commit.committedAt).toBeGreaterThan(performance.timeOrigin + performance.now() - 5_000)
  })

  it('waits for an application transaction open on the same connection instead of joining it', async () => {
    const sqlite = await open()
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const transaction = sqlite.kyselyTransaction(async (tx) => {
      await tx.offsets.save('p', 1)
      await held
      throw new Error('rolled back on purpose')
    })
    await new Promise((resolve) => setTimeout(resolve, 5))
    const append = sqlite.journal.append([appendRequest('w', [newEvent('x')])])
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(sqlite.journal.stats.transactions).toBe(0)
    release()
    await expect(transaction).rejects.toThrow('rolled back on purpose')
    expect((await append)[0]?.ok).toBe(true)
    expect(await sqlite.journal.highestSeqNr('w')).toBe(1)
    expect(await sqlite.offsetStore.load('p')).toBeUndefined()
  })

  it('commits queued appends on close and rejects appends after it', async () => {
    const sqlite = await openSqlite(newFile(), { writer })
    const pending = sqlite.journal.append([appendRequest('c', [newEvent('x')])])
    await sqlite.close()
    expect((await pending)[0]?.ok).toBe(true)
    await expect(
      sqlite.journal.append([appendRequest('c', [newEvent('x')], { expectedSeqNr: 1 })]),
    ).rejects.toMatchObject({
      code: 'JOURNAL_FAILURE',
    })
  })

  it('refuses appends made while closing and commits none of them', async () => {
    const file = newFile()
    const sqlite = await openSqlite(file, { writer })
    const queued = sqlite.journal.append([appendRequest('q', [newEvent('x')])])
    const closing = sqlite.close()
    const late = sqlite.journal.append([appendRequest('late', [newEvent('x')])])
    await expect(late).rejects.toMatchObject({ code: 'JOURNAL_FAILURE' })
    await closing
    expect((await queued)[0]?.ok).toBe(true)
    const reopened = await open(file)
    expect(await reopened.journal.highestSeqNr('q')).toBe(1)
    expect(await reopened.journal.highestSeqNr('late')).toBe(0)
  })

  it('sees a write of another connection to the same file before checking versions', async () => {
    const file = newFile()
    const one = await open(file)
    const two = await open(file)
    expect((await one.journal.append([appendRequest('shared', [newEvent('x')])]))[0]?.ok).toBe(true)
    expect(
      (await two.journal.append([appendRequest('shared', [newEvent('y')], { expectedSeqNr: 1 })]))[0]?.ok,
    ).toBe(true)
    // `one` cached head 1 for "shared"; the other connection's commit must invalidate it.
    const [stale] = await one.journal.append([appendRequest('shared', [newEvent('z')], { expectedSeqNr: 1 })])
    expect(stale?.ok).toBe(false)
    expect(stale && !stale.ok && stale.error.message).toContain('is at version 2, expected 1')
    expect(
      (await one.journal.append([appendRequest('shared', [newEvent('z')], { expectedSeqNr: 2 })]))[0]?.ok,
    ).toBe(true)
    expect((await two.journal.replay('shared')).map((e) => e.type)).toEqual(['x', 'y', 'z'])
  })
})

describe('group commit through fromKysely', () => {
  it('batches concurrent appends into multi-row inserts and isolates conflicts', async () => {
    const database = new Database(newFile())
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database }) })
    const sqlite = await fromKysely(kysely, { busyTimeoutMs: 1000 })
    try {
      await sqlite.journal.append([appendRequest('taken', [newEvent('x', {}, { tags: ['k'] })])])
      const results = await Promise.all([
        ...Array.from({ length: 100 }, (_, i) =>
          sqlite.journal.append([
            appendRequest(`k-${i}`, [newEvent('x', { i }, { tags: ['k', 'k'] }), newEvent('y')]),
          ]),
        ),
        sqlite.journal.append([appendRequest('taken', [newEvent('x')])]),
      ])
      expect(results.slice(0, 100).every(([o]) => o?.ok)).toBe(true)
      expect(results[100]?.[0]?.ok).toBe(false)
      expect(sqlite.journal.stats.transactions).toBeLessThanOrEqual(3)
      const tagged = await lastValueFrom(sqlite.readJournal().currentEventsByTag('k').pipe(toArray()))
      expect(tagged).toHaveLength(101)
      const [outcome] = results[7] ?? []
      expect(outcome?.ok && outcome.envelopes.map((e) => [e.persistenceId, e.seqNr, e.payload])).toEqual([
        ['k-7', 1, { i: 7 }],
        ['k-7', 2, {}],
      ])
      const replayed = await sqlite.journal.replay('k-7')
      expect(outcome?.ok && outcome.envelopes).toEqual(replayed)
    } finally {
      await sqlite.close()
      await kysely.destroy()
    }
  })

  it('splits a large append into inserts below the bound-variable limit', async () => {
    const database = new Database(':memory:')
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database }) })
    const sqlite = await fromKysely(kysely)
    try {
      const events = Array.from({ length: 9000 }, (_, i) => newEvent('bulk', { i }, { tags: ['bulk'] }))
      const [outcome] = await sqlite.journal.append([appendRequest('bulk', events)])
      expect(outcome?.ok).toBe(true)
      expect(await sqlite.journal.highestSeqNr('bulk')).toBe(9000)
      const tagged = await lastValueFrom(sqlite.readJournal().currentEventsByTag('bulk').pipe(toArray()))
      expect(tagged.map((e) => e.seqNr)).toEqual(Array.from({ length: 9000 }, (_, i) => i + 1))
    } finally {
      await sqlite.close()
      await kysely.destroy()
    }
  })
})
