import path from 'node:path'
import Database from 'better-sqlite3'
import { type Generated, Kysely, SqliteDialect } from 'kysely'
import { addItem, type CartEvent, type CartTotals, decideCart } from '../cart-workload.ts'
import { WorkloadConflict } from '../command-driver.ts'
import type { PeerDefinition } from '../peer-definition.ts'
import { openRawSqlite } from '../sqlite-settings.ts'

interface EventsTable {
  position: Generated<number>
  stream_id: string
  version: number
  type: string
  data: string
  created_at: number
}

// #region kysely-repository
/**
 * What a team writes by hand: a table of events with a unique `(stream_id, version)`, and per command one
 * transaction that loads the cart's events, folds them, decides and inserts the new events.
 */
async function handleCommand(
  db: Kysely<{ events: EventsTable }>,
  cartId: string,
  decide: (status: 'Empty' | 'Opened' | 'Confirmed', totals: CartTotals) => ReturnType<typeof decideCart>,
  expectedVersion: number | undefined,
): Promise<{ events: number; version: number }> {
  return db.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom('events')
      .select(['type', 'data'])
      .where('stream_id', '=', cartId)
      .orderBy('version')
      .execute()
    let status: 'Empty' | 'Opened' | 'Confirmed' = 'Empty'
    let totals: CartTotals = { items: 0, total: 0 }
    for (const row of rows) {
      const event = JSON.parse(row.data) as CartEvent
      if (event.type === 'ProductItemAdded') {
        status = 'Opened'
        totals = addItem(totals, event.productItem)
      } else status = 'Confirmed'
    }
    if (expectedVersion !== undefined && expectedVersion !== rows.length)
      throw new WorkloadConflict(rows.length)
    const decision = decide(status, totals)
    if ('rejected' in decision) throw new Error(decision.rejected)
    const now = Date.now()
    await trx
      .insertInto('events')
      .values(
        decision.map((event, i) => ({
          stream_id: cartId,
          version: rows.length + i + 1,
          type: event.type,
          data: JSON.stringify(event),
          created_at: now,
        })),
      )
      .execute()
    return { events: decision.length, version: rows.length + decision.length }
  })
}
// #endregion kysely-repository

/**
 * A hand-written repository on Kysely and better-sqlite3 (one connection; Kysely's SQLite dialect runs one
 * transaction at a time on it), each command answered after its own commit.
 */
export const kyselyRepositoryPeer: PeerDefinition = {
  name: 'kysely-repository',
  label: 'hand-written Kysely repository',
  durability: (synchronous) =>
    `reply after its own synced commit (WAL, ${synchronous}), one transaction at a time`,
  async open({ dir, synchronous }) {
    const sqlite = openRawSqlite(Database, path.join(dir, 'kysely.db'), synchronous)
    sqlite.exec(`CREATE TABLE events (
      position INTEGER PRIMARY KEY AUTOINCREMENT,
      stream_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      type TEXT NOT NULL,
      data TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      UNIQUE (stream_id, version)
    )`)
    const count = sqlite.prepare(`SELECT count(*) FROM events WHERE stream_id NOT LIKE 'warm-%'`).pluck()
    const db = new Kysely<{ events: EventsTable }>({ dialect: new SqliteDialect({ database: sqlite }) })
    return {
      send: (cartId, command, expectedVersion) =>
        handleCommand(
          db,
          cartId,
          (status, totals) => decideCart(command, cartId, status, totals),
          expectedVersion,
        ),
      storedEvents: async () => count.get() as number,
      close: () => db.destroy(),
    }
  },
}
