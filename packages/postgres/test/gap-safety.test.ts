import { isStatesourceError } from '@statesource/core'
import { appendRequest, newEvent } from '@statesource/core/testing'
import type pg from 'pg'
import { firstValueFrom, lastValueFrom, type Observable, take, toArray } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import { appendParams, encodeRequest } from '../src/append-batch.ts'
import { channelName, type StatesourcePostgres } from '../src/index.ts'
import { journalSql } from '../src/journal-sql.ts'
import { adminQuery, connectClient, openFresh, pgUrl } from './pg-test-server.ts'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function fresh(): Promise<StatesourcePostgres> {
  const opened = await openFresh()
  cleanups.push(opened.dispose)
  return opened.pg
}

async function client(url = pgUrl()): Promise<pg.Client> {
  const c = await connectClient(url)
  cleanups.push(() => c.end().catch(() => undefined))
  return c
}

/** Opens a transaction on `c` and appends one event to `persistenceId` in it, without committing. */
async function appendUncommitted(c: pg.Client, db: StatesourcePostgres, persistenceId: string) {
  await c.query('BEGIN')
  const request = encodeRequest(appendRequest(persistenceId, [newEvent('held')]))
  const { rows } = await c.query(
    journalSql(db.schema).append,
    appendParams([request], { now: Date.now(), writerId: 'test' }, channelName(db.schema)),
  )
  return rows[0] as { accepted: boolean[]; base: string }
}

/** Resolves once `n` backends wait for a lock inside the append function. */
async function appendsWaitingForALock(n: number): Promise<void> {
  for (;;) {
    const rows = await adminQuery<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity
       WHERE wait_event_type = 'Lock' AND query LIKE '%statesource_append%' AND pid <> pg_backend_pid()`,
    )
    if (Number(rows[0]?.n) >= n) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function ids(events: { persistenceId: string; seqNr: number; ordering: number }[]): string[] {
  return events.map((e) => `${e.ordering}:${e.persistenceId}:${e.seqNr}`)
}

function all(db: StatesourcePostgres) {
  return lastValueFrom(db.readJournal({ pollIntervalMs: 20 }).currentAllEvents().pipe(toArray()))
}

function collect<T>(source: Observable<T>): T[] {
  const seen: T[] = []
  const subscription = source.subscribe((value) => seen.push(value))
  cleanups.push(async () => subscription.unsubscribe())
  return seen
}

describe('gap-safe ordering on PostgreSQL', () => {
  it('an open transaction holding numbers blocks the next writer; readers see neither until it commits, then both in order', async () => {
    const db = await fresh()
    const holder = await client()
    const held = await appendUncommitted(holder, db, 'x')
    expect(held).toMatchObject({ accepted: [true], base: '0' })

    const live = collect(db.readJournal({ pollIntervalMs: 20 }).allEvents())
    const next = db.journal.append([appendRequest('y', [newEvent('next')])])
    await appendsWaitingForALock(1)
    // Neither the held event nor the blocked one is visible, live or current, and the head has not moved.
    expect(await all(db)).toEqual([])
    expect(await db.readJournal().highestOrdering()).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(live).toEqual([])

    await holder.query('COMMIT')
    const [outcome] = await next
    expect(outcome?.ok && outcome.envelopes.map((e) => e.ordering)).toEqual([2])
    expect(ids(await all(db))).toEqual(['1:x:1', '2:y:1'])
    await firstValueFrom(db.readJournal({ pollIntervalMs: 20 }).allEvents(1).pipe(take(1)))
    while (live.length < 2) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(ids(live)).toEqual(['1:x:1', '2:y:1'])
  })

  it('a backend killed mid-append leaves no hole and no stall', async () => {
    const db = await fresh()
    const holder = await client()
    await appendUncommitted(holder, db, 'x')
    const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    const next = db.journal.append([appendRequest('y', [newEvent('next')])])
    await appendsWaitingForALock(1)

    await adminQuery('SELECT pg_terminate_backend($1)', [rows[0]!.pid])
    // The killed transaction rolled back, its numbers with it: the waiting append takes ordering 1.
    const [outcome] = await next
    expect(outcome?.ok && outcome.envelopes.map((e) => e.ordering)).toEqual([1])
    await db.journal.append([appendRequest('z', [newEvent('after'), newEvent('after')])])
    expect(ids(await all(db))).toEqual(['1:y:1', '2:z:1', '3:z:2'])
    expect(await db.journal.highestSeqNr('x')).toBe(0)
    expect(await db.readJournal().highestOrdering()).toBe(3)
  })

  it('an append whose own connection is killed while it waits rejects, writes nothing, and the journal goes on', async () => {
    const db = await fresh()
    const holder = await client()
    await appendUncommitted(holder, db, 'x')
    const waiting = db.journal.append([appendRequest('w', [newEvent('lost')])]).catch((e: unknown) => e)
    await appendsWaitingForALock(1)
    await adminQuery(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE wait_event_type = 'Lock' AND query LIKE '%statesource_append%' AND application_name = 'statesource'`,
    )
    const error = await waiting
    expect(isStatesourceError(error, 'JOURNAL_OUTCOME_UNKNOWN')).toBe(true)
    expect((error as Error).message).toContain('Retry the command with the same commandId')

    await holder.query('COMMIT')
    const [outcome] = await db.journal.append([appendRequest('v', [newEvent('after')])])
    expect(outcome?.ok).toBe(true)
    expect(ids(await all(db))).toEqual(['1:x:1', '2:v:1'])
    expect(await db.journal.highestSeqNr('w')).toBe(0)
    expect(db.journal.stats.failedTransactions).toBe(1)
  })

  it('the connection of an append killed in use is not handed to the next append', async () => {
    const db = await fresh()
    const holder = await client()
    await appendUncommitted(holder, db, 'x')
    const waiting = db.journal.append([appendRequest('w', [newEvent('lost')])])
    await appendsWaitingForALock(1)
    // The next append is queued the moment the first one fails: the server has reported the kill but may
    // not have closed the socket yet, and the pool must not lend that connection out again.
    const next = waiting.then(
      () => undefined,
      () => db.journal.append([appendRequest('v', [newEvent('after')])]),
    )
    await adminQuery(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE wait_event_type = 'Lock' AND query LIKE '%statesource_append%' AND application_name = 'statesource'`,
    )
    await expect(waiting).rejects.toSatisfy((e) => isStatesourceError(e, 'JOURNAL_OUTCOME_UNKNOWN'))
    // It waits for the holder's lock on a live connection (or fails at once on a dead one).
    await Promise.race([appendsWaitingForALock(1), next])
    await holder.query('COMMIT')
    const outcomes = await next
    expect(outcomes?.map((o) => o.ok)).toEqual([true])
    expect(ids(await all(db))).toEqual(['1:x:1', '2:v:1'])
    expect(db.journal.stats.failedTransactions).toBe(1)
  })

  it('an open transaction in another database does not stall readers', async () => {
    const db = await fresh()
    const other = `ss_other_${Math.random().toString(36).slice(2, 10)}`
    await adminQuery(`CREATE DATABASE ${other}`)
    cleanups.push(() => adminQuery(`DROP DATABASE IF EXISTS ${other} WITH (FORCE)`))
    const url = new URL(pgUrl())
    url.pathname = `/${other}`
    const elsewhere = await client(url.toString())
    await elsewhere.query('BEGIN')
    await elsewhere.query('CREATE TABLE t (n int)')
    await elsewhere.query('INSERT INTO t VALUES (1)')
    await elsewhere.query('SELECT pg_current_xact_id()')

    const live = collect(db.readJournal({ pollIntervalMs: 20 }).allEvents())
    await db.journal.append([appendRequest('a', [newEvent('x')])])
    await db.journal.append([appendRequest('b', [newEvent('x')])])
    expect(ids(await all(db))).toEqual(['1:a:1', '2:b:1'])
    while (live.length < 2) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(ids(live)).toEqual(['1:a:1', '2:b:1'])
    await elsewhere.query('ROLLBACK')
  })

  it('a stale request in a batch fails alone, and a repeat of a stream waits for the next batch', async () => {
    const db = await fresh()
    await db.journal.append([appendRequest('s', [newEvent('x')])])
    const before = db.journal.stats
    const outcomes = await Promise.all([
      db.journal.append([appendRequest('s', [newEvent('stale')])]),
      db.journal.append([
        appendRequest('t', [newEvent('x')]),
        appendRequest('t', [newEvent('x')], { expectedSeqNr: 1 }),
      ]),
      db.journal.append([appendRequest('s', [newEvent('x')], { expectedSeqNr: 1 })]),
    ])
    expect(outcomes.map((call) => call.map((o) => o.ok))).toEqual([[false], [true, true], [true]])
    const stats = db.journal.stats
    // One batch for the first request of each stream, one for the repeats of "t" and "s".
    expect(stats.transactions - before.transactions).toBe(2)
    expect(stats.deferred - before.deferred).toBe(2)
    expect(ids(await all(db))).toEqual(['1:s:1', '2:t:1', '3:t:2', '4:s:2'])
  })
})
