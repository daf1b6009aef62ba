import type { CartCommand } from './cart-workload.ts'
import type { SqliteSynchronous } from './sqlite-settings.ts'

/** One side of a command benchmark, opened in a child process for one run. */
export interface PeerSession {
  /** Handles one command (see `CommandRunner`): rejects with `WorkloadConflict` on a version conflict. */
  send(
    cartId: string,
    command: CartCommand,
    expectedVersion: number | undefined,
  ): Promise<{ events: number; version: number }>
  /** Called right before the timed run (after the warm-up): reset counters here. */
  beforeTimedRun?(): void
  /** Counters of the timed run for the report (transactions committed, ...). */
  counters?(): Record<string, number>
  /** Events of the timed run found in the store afterwards, counted with a query (not by the driver). */
  storedEvents(): Promise<number>
  close(): Promise<void>
}

/** Where a peer's run keeps its data and how durable its writes are. */
export interface PeerOpenOptions {
  /** Scratch directory of the run (a database file goes there). */
  readonly dir: string
  readonly synchronous: SqliteSynchronous
  readonly concurrency: number
}

/**
 * A system under test. A new database (PostgreSQL, ...) adds a case file under `src/cases/` exporting one of
 * these and lists it in `PEERS` (`peers.ts`); the runner and the report pick it up by name.
 */
export interface PeerDefinition {
  /** Key in results and options (`statesource`, `emmett-durable`, ...). */
  readonly name: string
  /** Shown in tables and charts. */
  readonly label: string
  /** What an acknowledged command has survived, per row of the table (`synced commit, FULL` ...). */
  durability(synchronous: SqliteSynchronous): string
  open(options: PeerOpenOptions): Promise<PeerSession>
}
