import { CommandHandler, type Event } from '@event-driven-io/emmett'
import { SQLiteConnectionPool, getSQLiteEventStore, sqliteConnection } from '@event-driven-io/emmett-sqlite'
import { type CartCommand, type CartEvent, type WorkloadSize, addItem, decideCart } from '../cart-workload.ts'
import { type CommandRunResult, driveCommands } from '../command-driver.ts'
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
function decide(command: CartCommand, state: EmmettCart, cartId: string): EmmettCartEvent {
  const decision = decideCart(command, cartId, state.status, state)
  if ('rejected' in decision) throw new Error(decision.rejected)
  const { type, ...data } = decision
  return { type, data } as EmmettCartEvent
}

const handle = CommandHandler<EmmettCart, EmmettCartEvent>({ evolve, initialState })
// #endregion emmett

/** Options of {@link runEmmettCommands}. */
export interface EmmettRunOptions extends WorkloadSize {
  /** The SQLite file (created). */
  readonly file: string
  readonly concurrency: number
  readonly synchronous: SqliteSynchronous
}

/**
 * Runs the cart workload through Emmett's `CommandHandler` on emmett-sqlite's event store, in its best
 * working setup: one shared node-sqlite3 connection (the documented default opens a connection per
 * operation and fails with concurrent commands, see docs/benchmarks.md).
 *
 * @example
 * ```ts
 * const result = await runEmmettCommands({ file: '/tmp/e.db', commands: 2_000, streams: 100, concurrency: 100, synchronous: 'FULL' })
 * ```
 */
export async function runEmmettCommands(
  options: EmmettRunOptions,
): Promise<CommandRunResult & { synchronousPragma: number }> {
  const connection = sqliteConnection({ fileName: options.file })
  try {
    // sqliteConnection already sets WAL; node-sqlite3's compiled default is FULL, set it explicitly anyway.
    await connection.command(`PRAGMA synchronous = ${options.synchronous}`)
    const pool = SQLiteConnectionPool({
      fileName: options.file,
      connectionOptions: { singleton: true, connection },
    })
    const eventStore = getSQLiteEventStore({ fileName: options.file, pool })
    await eventStore.schema.migrate()
    const run = await driveCommands(options, options.concurrency, async (cartId, command) => {
      const result = await handle(eventStore, cartId, (state) => decide(command, state, cartId))
      return result.newEvents.length
    })
    const stored = await connection.querySingle<{ n: number }>(
      `SELECT count(*) AS n FROM emt_messages WHERE stream_id NOT LIKE 'warm-%'`,
    )
    const pragma = await connection.querySingle<{ synchronous: number }>('PRAGMA synchronous')
    return { ...run, storedEvents: stored?.n ?? 0, synchronousPragma: pragma?.synchronous ?? -1 }
  } finally {
    connection.close()
  }
}
