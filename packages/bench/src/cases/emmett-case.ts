import path from 'node:path'
import { CommandHandler, type Event, type EventStore, getInMemoryEventStore } from '@event-driven-io/emmett'
import { getSQLiteEventStore, SQLiteConnectionPool, sqliteConnection } from '@event-driven-io/emmett-sqlite'
import { addItem, type CartCommand, type CartEvent, decideCart } from '../cart-workload.ts'
import { WorkloadConflict } from '../command-driver.ts'
import type { PeerDefinition, PeerSession } from '../peer-definition.ts'
import type { SqliteSynchronous } from '../sqlite-settings.ts'

// #region emmett
type EmmettCartEvent = {
  [K in CartEvent['type']]: Event<K, Omit<Extract<CartEvent, { type: K }>, 'type'>>
}[CartEvent['type']]

interface EmmettCart {
  readonly status: 'Empty' | 'Opened' | 'Confirmed'
  readonly items: number
  readonly total: number
}

const initialState = (): EmmettCart => ({ status: 'Empty', items: 0, total: 0 })

/** Emmett's `evolve`: the same totals arithmetic as the statechart's `addItem` action. */
function evolve(state: EmmettCart, event: EmmettCartEvent): EmmettCart {
  switch (event.type) {
    case 'ProductItemAdded':
      return { status: 'Opened', ...addItem(state, event.data.productItem) }
    case 'ShoppingCartConfirmed':
      return { ...state, status: 'Confirmed' }
  }
}

/** Emmett's `decide`: the same rules; a rejection throws, as Emmett deciders do. */
function decide(command: CartCommand, state: EmmettCart, cartId: string): EmmettCartEvent[] {
  const decision = decideCart(command, cartId, state.status, state)
  if ('rejected' in decision) throw new Error(decision.rejected)
  return decision.map(({ type, ...data }) => ({ type, data }) as EmmettCartEvent)
}

const handle = CommandHandler<EmmettCart, EmmettCartEvent>({ evolve, initialState })
// #endregion emmett

/** One command through Emmett's `CommandHandler`; a version conflict becomes a `WorkloadConflict`. */
function sender(eventStore: EventStore): PeerSession['send'] {
  return async (cartId, command, expectedVersion) => {
    try {
      const result = await handle(
        eventStore,
        cartId,
        (state) => decide(command, state, cartId),
        // `0n`, not STREAM_DOES_NOT_EXIST: emmett-sqlite 0.42.4 turns the latter into an UPDATE of a stream
        // row that does not exist yet ("Could not find stream position").
        expectedVersion === undefined ? undefined : { expectedStreamVersion: BigInt(expectedVersion) },
      )
      return { events: result.newEvents.length, version: Number(result.nextExpectedStreamVersion) }
    } catch (error) {
      const current = (error as { current?: unknown })?.current
      if (current !== undefined && /version/i.test(String((error as Error).message))) {
        throw new WorkloadConflict(Number(current ?? 0))
      }
      // Expecting a new stream that exists: the insert of its stream row breaks the primary key.
      if (expectedVersion === 0 && /SQLITE_CONSTRAINT/.test(String((error as Error)?.message))) {
        throw new WorkloadConflict(1)
      }
      throw error
    }
  }
}

/** A promise chain that lets one command at a time through. */
function serialized(send: PeerSession['send']): PeerSession['send'] {
  let tail: Promise<unknown> = Promise.resolve()
  return (cartId, command, expectedVersion) => {
    const result = tail.then(() => send(cartId, command, expectedVersion))
    tail = result.catch(() => undefined)
    return result
  }
}

/**
 * emmett-sqlite's event store on one shared node-sqlite3 connection, WAL, `synchronous` set explicitly (and
 * read back). `serialize`: one command at a time, so that each runs in its own transaction and is answered
 * after its own commit.
 */
async function openEmmettSqlite(
  dir: string,
  synchronous: SqliteSynchronous,
  serialize: boolean,
): Promise<PeerSession> {
  // emmett-sqlite's `withTransaction` prints every error that rolls a transaction back (version conflicts,
  // and with the shared connection `cannot commit - no transaction is active`); the run counts them instead.
  const print = console.log
  console.log = () => {}
  const fileName = path.join(dir, 'emmett.db')
  const connection = sqliteConnection({ fileName })
  // sqliteConnection already sets WAL; node-sqlite3's compiled default is FULL: set it explicitly anyway.
  await connection.command(`PRAGMA synchronous = ${synchronous}`)
  const pragma = await connection.querySingle<{ synchronous: number }>('PRAGMA synchronous')
  const pool = SQLiteConnectionPool({ fileName, connectionOptions: { singleton: true, connection } })
  const eventStore = getSQLiteEventStore({ fileName, pool })
  await eventStore.schema.migrate()
  const send = sender(eventStore as unknown as EventStore)
  return {
    send: serialize ? serialized(send) : send,
    counters: () => ({ synchronousPragma: pragma?.synchronous ?? -1 }),
    storedEvents: async () =>
      (
        await connection.querySingle<{ n: number }>(
          `SELECT count(*) AS n FROM emt_messages WHERE stream_id NOT LIKE 'warm-%'`,
        )
      )?.n ?? 0,
    close: async () => {
      connection.close()
      console.log = print
    },
  }
}

/**
 * Emmett's best durable setup on SQLite: the shared connection with commands let through one at a time.
 * Every command runs in its own `BEGIN IMMEDIATE … COMMIT` and is answered after that commit. (The
 * documented default, a connection per operation, is durable too but fails most commands with
 * `SQLITE_BUSY` once several are in flight; see docs/benchmarks.md.)
 */
export const emmettDurablePeer: PeerDefinition = {
  name: 'emmett-durable',
  label: 'Emmett (SQLite, durable)',
  durability: (synchronous) =>
    `reply after its own synced commit (WAL, ${synchronous}), one command at a time`,
  open: ({ dir, synchronous }) => openEmmettSqlite(dir, synchronous, true),
}

/**
 * Emmett's shared connection with commands running concurrently: emmett-sqlite keeps one transaction-nesting
 * counter per connection, so concurrent commands join one open transaction and are answered **before it
 * commits** (and one failing command would roll back others already answered). Not durable per command.
 */
export const emmettSharedPeer: PeerDefinition = {
  name: 'emmett-shared',
  label: 'Emmett (SQLite, shared connection)',
  durability: () => 'acknowledges before commit',
  open: ({ dir, synchronous }) => openEmmettSqlite(dir, synchronous, false),
}

/** Emmett's in-memory event store (no I/O), against statesource's in-memory journal. */
export const emmettMemoryPeer: PeerDefinition = {
  name: 'emmett-memory',
  label: 'Emmett (in-memory store)',
  durability: () => 'none (in memory)',
  async open() {
    const send = sender(getInMemoryEventStore() as unknown as EventStore)
    let stored = 0
    return {
      send: async (cartId, command, expectedVersion) => {
        const reply = await send(cartId, command, expectedVersion)
        if (!cartId.startsWith('warm-')) stored += reply.events
        return reply
      },
      storedEvents: async () => stored,
      close: async () => {},
    }
  },
}
