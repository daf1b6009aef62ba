import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { EventCodecRegistry } from '../codec/event-codec-registry.ts'
import type { Interceptor } from '../extensions/interceptor.ts'
import type { Listener } from '../extensions/listener.ts'
import type { TapHub } from '../extensions/tap.ts'
import type { Logger } from '../logger.ts'
import type { Journal } from '../persistence/journal.ts'
import type { SnapshotStore } from '../persistence/snapshot-store.ts'

/** When the gateway writes aggregate snapshots. */
export type SnapshotPolicy = { readonly every: number } | 'manual'

/** Passivation: how long an idle aggregate stays live, and how many may be live at once. */
export interface PassivationConfig {
  /** Stop an aggregate after this long without commands. Default 600,000 ms (10 minutes; {@link CQRS_DEFAULTS}). */
  readonly idleTimeoutMs?: number
  /**
   * The bound on aggregates in memory; the least recently used idle one goes first. Default 100,000 ({@link CQRS_DEFAULTS}).
   * Aggregates that are recovering or have commands queued are never passivated, so a burst of commands to new
   * ids exceeds it by the number of aggregates busy at once, until their commands are answered.
   */
  readonly maxLive?: number
}

/**
 * Supervision: an aggregate whose live actor fails is restarted (recovered from the journal) up to
 * `maxRestarts` times within `withinMs`; the next failure in that window refuses its commands with
 * `AGGREGATE_FAILING` until `withinMs` has passed. Default 3 within 60,000 ms ({@link CQRS_DEFAULTS}).
 */
export interface RestartLimit {
  /** Restarts allowed within the window; failure number `maxRestarts + 1` refuses the aggregate. Default 3. */
  readonly maxRestarts: number
  /** The window, in ms. Default 60,000 ms. */
  readonly withinMs: number
}

/**
 * Back-pressure: how many commands the gateway holds before it refuses new ones at once with an
 * `OverloadedError` (`OVERLOADED`), so a flood turns into fast refusals instead of memory growth.
 */
export interface CommandQueueLimits {
  /** Commands waiting for one aggregate (besides the one it is processing). Default 1,000. */
  readonly maxPerAggregate?: number
  /** Commands the gateway holds in total, waiting or being processed. Default 100,000. */
  readonly maxTotal?: number
}

/** Everything the gateway actor needs. The builder fills it; it can also be built by hand. */
export interface GatewayConfig {
  readonly aggregates: readonly AnyAggregate[]
  readonly journal: Journal
  readonly snapshotStore?: SnapshotStore | undefined
  readonly snapshotPolicy?: SnapshotPolicy | undefined
  readonly snapshotKeepLast?: number | undefined
  readonly recoveryPermits?: number | undefined
  readonly passivation?: PassivationConfig | undefined
  readonly restartLimit?: RestartLimit | undefined
  /** Command ids remembered per aggregate for idempotency. Default 100 (`CQRS_DEFAULTS.dedupeWindow`). */
  readonly dedupeWindow?: number | undefined
  readonly codecs?: EventCodecRegistry | undefined
  readonly interceptors?: readonly Interceptor[] | undefined
  readonly listeners?: readonly Listener[] | undefined
  readonly taps?: TapHub | undefined
  readonly logger?: Logger | undefined
  /** Stamped into every event's metadata as `writerId` when set. */
  readonly writerId?: string | undefined
  /** Bounds of the command queues. Defaults: 1,000 per aggregate, 100,000 in total. */
  readonly commandQueue?: CommandQueueLimits | undefined
}
