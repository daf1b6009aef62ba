import type {
  CheckpointConfig,
  DomainEvent,
  EventEnvelope,
  Reader,
  ReaderErrorPolicy,
  ReaderFilter,
} from '@statesource/core'
import { defineReader } from '@statesource/core'
import { type Kysely, sql } from 'kysely'
import type { StatesourcePostgres } from './open-postgres.ts'

/**
 * Options of {@link createPostgresProjection}: a reader whose read model lives in tables of the
 * statesource PostgreSQL database, written in the same transaction as its offset.
 *
 * @example
 * ```ts
 * const config: PostgresProjectionConfig<number> = {
 *   pg,
 *   name: 'balances',
 *   setup: (db) => sql`CREATE TABLE IF NOT EXISTS balances (id text PRIMARY KEY, amount bigint NOT NULL)`.execute(db),
 *   initialState: 0,
 *   apply: async (n, event, envelope, tx) => {
 *     await sql`INSERT INTO balances VALUES (${envelope.persistenceId}, 0) ON CONFLICT DO NOTHING`.execute(tx)
 *     return n + 1
 *   },
 * }
 * ```
 */
export interface PostgresProjectionConfig<TState, TEvent extends DomainEvent = DomainEvent> {
  readonly pg: StatesourcePostgres
  readonly name: string
  readonly filter?: ReaderFilter
  readonly errorPolicy?: ReaderErrorPolicy
  readonly retry?: Reader<TState, TEvent>['retry']
  readonly checkpoint?: CheckpointConfig
  /**
   * Creates the read-model tables; runs once when the projection is created, in a transaction under an advisory
   * lock named after the projection (processes that start together run it one at a time). Make it idempotent.
   */
  readonly setup?: (db: Kysely<any>) => Promise<unknown>
  readonly initialState: TState
  /**
   * Writes the read model through `tx` (the event's transaction, which also stores the offset) and returns
   * the next in-memory state.
   */
  apply(state: TState, event: TEvent, envelope: EventEnvelope, tx: Kysely<any>): TState | Promise<TState>
  /** The in-memory state from the tables, when resuming from a stored offset. Default: `initialState`. */
  readonly loadState?: (db: Kysely<any>) => Promise<TState>
  /** Clears the read-model tables for `rebuildProjection`; runs in the transaction that resets the offset. */
  readonly reset?: (tx: Kysely<any>) => Promise<unknown>
}

/**
 * Creates an exactly-once reader over a PostgreSQL read model: each event is applied in one transaction
 * that first moves the projection's offset to the event's ordering (which locks the offset row), or skips
 * the event when the stored offset already covers it, then runs `apply` with the Kysely transaction. So a
 * restart, a retry, or a second process running the same projection never applies an event twice, and a
 * failed `apply` leaves neither its writes nor the offset behind.
 *
 * @example
 * ```ts
 * const balances = builder.withReader(
 *   await createPostgresProjection({
 *     pg,
 *     name: 'balances',
 *     filter: ReaderFilter.tag('money'),
 *     setup: (db) => sql`CREATE TABLE IF NOT EXISTS balances (id text PRIMARY KEY, amount bigint NOT NULL)`.execute(db),
 *     initialState: undefined,
 *     apply: async (state, event, envelope, tx) => {
 *       await sql`INSERT INTO balances VALUES (${envelope.persistenceId}, ${Number(event.amount)})
 *         ON CONFLICT (id) DO UPDATE SET amount = balances.amount + excluded.amount`.execute(tx)
 *       return state
 *     },
 *   }),
 * )
 * ```
 *
 * @remarks
 * Give the builder `pg.offsetStore` as its offset store, so a restart resumes from the stored offset
 * instead of reading the journal from the start (which would be correct, only slower: covered events
 * are skipped). One transaction per event: a projection applies a few thousand events per second.
 */
export async function createPostgresProjection<TState, TEvent extends DomainEvent = DomainEvent>(
  config: PostgresProjectionConfig<TState, TEvent>,
): Promise<Reader<TState, TEvent>> {
  const { pg, name } = config
  if (config.setup) await runSetup(pg, name, config.setup)
  return defineReader<TState, TEvent>({
    name,
    initialState: config.initialState,
    ...(config.filter ? { filter: config.filter } : {}),
    ...(config.errorPolicy ? { errorPolicy: config.errorPolicy } : {}),
    ...(config.retry !== undefined ? { retry: config.retry } : {}),
    ...(config.checkpoint ? { checkpoint: config.checkpoint } : {}),
    apply: (state, event, envelope) =>
      pg.transaction(async (tx) => {
        // Moves the offset forward (locking its row until commit) unless it already covers the event.
        if (!(await tx.offsets.advance(name, envelope.ordering))) return state
        return config.apply(state, event, envelope, tx.kysely)
      }),
    loadState: async () => (config.loadState ? config.loadState(pg.kysely) : config.initialState),
    reset: () =>
      pg.transaction(async (tx) => {
        await config.reset?.(tx.kysely)
        await tx.offsets.reset(name)
      }),
  })
}

/**
 * Runs a projection's `setup` in a transaction under an advisory lock named after the projection, so the
 * processes of a cluster that start together run it one after another: PostgreSQL's `CREATE TABLE IF NOT
 * EXISTS` is not safe against itself (two at once, and one fails on the catalog's unique index).
 */
async function runSetup(
  pg: StatesourcePostgres,
  name: string,
  setup: (db: Kysely<any>) => Promise<unknown>,
): Promise<void> {
  await pg.kysely.transaction().execute(async (tx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${'statesource.projection-setup'}), hashtext(${name}))`.execute(
      tx,
    )
    await setup(tx)
  })
}
