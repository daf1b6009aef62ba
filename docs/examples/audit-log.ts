import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuditLog, CqrsPattern, createInMemoryJournal, ReaderFilter } from '@statesource/core'
// #region durable
import { createSqliteProjection, openSqlite, type StatesourceSqlite } from '@statesource/sqlite'
import { order } from './aggregates.ts'

/** An audit trail in the journal's own SQLite file, written in the same transaction as its offset. */
export function auditTrail(sqlite: StatesourceSqlite) {
  return createSqliteProjection({
    sqlite,
    name: 'audit-trail',
    setup: (db) =>
      db.exec(`CREATE TABLE IF NOT EXISTS audit_trail (
        ordering INTEGER PRIMARY KEY, persistence_id TEXT NOT NULL, seq_nr INTEGER NOT NULL,
        type TEXT NOT NULL, written_at INTEGER NOT NULL, user_id TEXT, correlation_id TEXT,
        metadata TEXT NOT NULL)`),
    initialState: undefined, // the table is the state
    apply: (state, _event, e, db) => {
      db.prepare('INSERT INTO audit_trail VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
        e.ordering,
        e.persistenceId,
        e.seqNr,
        e.type,
        e.timestamp,
        e.metadata.userId ?? null,
        e.metadata.correlationId ?? null,
        JSON.stringify(e.metadata),
      )
      return state
    },
    reset: (db) => db.exec('DELETE FROM audit_trail'), // for rebuildProjection
  })
}
// #endregion durable

// #region durable-wire
async function startApp(file: string) {
  const sqlite = await openSqlite(file)
  const builder = CqrsPattern.builder({ journal: sqlite.journal }).withAggregate(order)
  const trail = builder.withReader(auditTrail(sqlite))
  const handles = await builder.build().materialize()
  return { sqlite, handles, trail, orders: handles.repository(order) }
}
// #endregion durable-wire

export async function main(log: (line: string) => void = console.log) {
  // #region wire
  const journal = createInMemoryJournal()
  const builder = CqrsPattern.builder({ journal }).withAggregate(order)
  const audit = builder.withReader(new AuditLog({ capacity: 3 }))
  // A second log for the lifecycle events only: it needs its own name, since names key offsets.
  const lifecycle = builder.withReader(
    new AuditLog({ name: 'lifecycle-audit', capacity: 100, filter: ReaderFilter.tag('order-lifecycle') }),
  )
  const handles = await builder.build().materialize()
  // #endregion wire

  // #region read
  const orders = handles.repository(order)
  const checkout = { metadata: { correlationId: 'checkout-42', userId: 'ada' } }
  for (const price of [10, 20, 30]) await orders.send('o-1', { type: 'addItem', price }, checkout)
  const placed = await orders.send('o-1', { type: 'place', at: 1_700_000_000_000 }, checkout)

  const ring = await audit.waitForOffset(placed.ordering)
  log(`${ring.size} of ${ring.total} held`) // 3 of 4 held
  for (const { ordering, persistenceId, seqNr, type, metadata } of ring.recent(2)) {
    log(`${ordering} ${persistenceId}#${seqNr} ${type} by ${metadata.userId} (${metadata.correlationId})`)
  }
  // 3 order|o-1#3 itemAdded by ada (checkout-42)
  // 4 order|o-1#4 placed by ada (checkout-42)
  const placedOnly = await lifecycle.waitForOffset(placed.ordering)
  const lifecycleEvents = placedOnly.recent().map((e) => `${e.type} at ${e.event.at}`)
  log(lifecycleEvents.join()) // placed at 1700000000000
  await handles.stop()
  // #endregion read

  // #region restart
  // A restart (here: a new topology over the same journal) refills the ring by replaying the journal.
  const next = CqrsPattern.builder({ journal }).withAggregate(order)
  const refilled = next.withReader(new AuditLog({ capacity: 3 }))
  const restarted = await next.build().materialize()
  const again = await refilled.waitForOffset(placed.ordering)
  const seqNrs = again.recent().map((e) => e.seqNr)
  log(seqNrs.join()) // 2,3,4
  await restarted.stop()
  // #endregion restart

  const dir = mkdtempSync(join(tmpdir(), 'statesource-audit-'))
  const file = join(dir, 'app.db')
  // #region durable-restart
  const first = await startApp(file)
  await first.orders.send('o-1', { type: 'addItem', price: 5 }, { metadata: { userId: 'ada' } })
  await first.orders.send('o-2', { type: 'addItem', price: 5 }, { metadata: { userId: 'bob' } })
  await first.handles.stop()
  await first.sqlite.close()

  // The next process resumes after the last committed event: none is written twice.
  const second = await startApp(file)
  const sent = await second.orders.send('o-3', { type: 'addItem', price: 5 }, { metadata: { userId: 'ada' } })
  await second.trail.waitForOffset(sent.ordering)
  const rows = second.sqlite
    .db!.prepare('SELECT ordering, persistence_id AS id, user_id AS user FROM audit_trail ORDER BY ordering')
    .all() as { ordering: number; id: string; user: string }[]
  log(rows.map((r) => `${r.ordering} ${r.id} ${r.user}`).join(', ')) // 1 order|o-1 ada, 2 order|o-2 bob, 3 order|o-3 ada
  await second.handles.stop()
  await second.sqlite.close()
  // #endregion durable-restart
  rmSync(dir, { recursive: true, force: true })
}
