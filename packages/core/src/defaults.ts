/**
 * The defaults of the builder's and the gateway's options, in one place: the code reads them from here,
 * `topology.describe()` reports them, and the docs' tables are checked against them by a test.
 *
 * @example
 * ```ts
 * const handles = await CqrsPattern.builder({ journal })
 *   .withAggregate(account)
 *   .dedupeWindow(CQRS_DEFAULTS.dedupeWindow * 10)
 *   .build()
 *   .materialize()
 * ```
 */
export const CQRS_DEFAULTS = Object.freeze({
  /** How many aggregates may recover at once (`recoveryPermits(n)`). */
  recoveryPermits: 8,
  /** How long `repository.send` waits for its reply, in ms (`repositoryTimeout(ms)`). */
  repositoryTimeoutMs: 5_000,
  /** How often builder-wired readers poll for events of other processes, in ms (`pollInterval(ms)`). */
  pollIntervalMs: 50,
  /** Passivation: an aggregate idle this long, in ms, is stopped (`passivation({ idleTimeoutMs })`). */
  idleTimeoutMs: 600_000,
  /** Passivation: at most this many live aggregates (`passivation({ maxLive })`). */
  maxLive: 100_000,
  /**
   * Supervision (`restartLimit({ maxRestarts, withinMs })`): an aggregate whose live actor fails is restarted
   * up to `maxRestarts` times within `withinMs`; the next failure in that window refuses its commands with
   * `AGGREGATE_FAILING` for `withinMs`.
   */
  restartLimit: Object.freeze({ maxRestarts: 3, withinMs: 60_000 }),
  /** Command ids remembered per aggregate for idempotency (`dedupeWindow(n)`). */
  dedupeWindow: 100,
  /** With a snapshot store and no policy: a snapshot every this many events (`snapshotPolicy({ every })`). */
  snapshotEvery: 100,
  /** Snapshots kept per aggregate (`snapshotKeepLast(n)`). */
  snapshotKeepLast: 1,
  /** Commands waiting per aggregate and held in all before `OVERLOADED` (`commandQueue({ maxPerAggregate, maxTotal })`). */
  commandQueue: Object.freeze({ maxPerAggregate: 1_000, maxTotal: 100_000 }),
  /** Buffer of each tap, per stream, in items (`withTap({ bufferSize })`). */
  tapBufferSize: 10_000,
  /** Buffer of each `events$` / `commands$` subscription, in items (`tapStreamBufferSize(n)`). */
  streamBufferSize: 10_000,
  /** How long an actor interceptor may take to answer, in ms (`onCommand({ name, logic, timeoutMs })`). */
  interceptorTimeoutMs: 5_000,
} as const)

/**
 * The defaults of a polling read journal's options (`journal.readJournal(config)`,
 * `sqlite.readJournal(config)`), in one place. Readers wired by the builder poll at the builder's
 * `pollInterval` instead ({@link CQRS_DEFAULTS}`.pollIntervalMs`).
 *
 * @example
 * ```ts
 * const readJournal = sqlite.readJournal({ pageSize: READ_JOURNAL_DEFAULTS.pageSize / 2 })
 * ```
 */
export const READ_JOURNAL_DEFAULTS = Object.freeze({
  /** How often live queries look for events written by other processes, in ms. */
  pollIntervalMs: 250,
  /** Rows per page a query reads. */
  pageSize: 500,
} as const)
