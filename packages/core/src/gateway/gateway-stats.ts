/**
 * Counters exposed on the gateway snapshot and as `handles.stats`.
 *
 * @example
 * ```ts
 * const { live, recovering, recoveries, eventsReplayed } = handles.stats
 * console.log(`${live} live, ${recovering} recovering, ${eventsReplayed / Math.max(1, recoveries)} events per recovery`)
 * ```
 */
export interface GatewayStats {
  /** Aggregates in memory and serving commands. */
  live: number
  /** Aggregates being recovered (snapshot, then journal) right now. */
  recovering: number
  /** Commands received (including refused ones). */
  commands: number
  persistedEvents: number
  rejected: number
  failed: number
  passivated: number
  restarts: number
  /** Commands refused at once because a command-queue bound was reached (`OVERLOADED`). */
  overloaded: number
  /** Recoveries that completed. */
  recoveries: number
  /** Of those, how many started from a snapshot. */
  recoveriesFromSnapshot: number
  /** Events folded from the journal by all recoveries: divided by `recoveries`, the tail a recovery replays. */
  eventsReplayed: number
}

/** All counters at zero. */
export function createGatewayStats(): GatewayStats {
  return {
    live: 0,
    recovering: 0,
    commands: 0,
    persistedEvents: 0,
    rejected: 0,
    failed: 0,
    passivated: 0,
    restarts: 0,
    overloaded: 0,
    recoveries: 0,
    recoveriesFromSnapshot: 0,
    eventsReplayed: 0,
  }
}
