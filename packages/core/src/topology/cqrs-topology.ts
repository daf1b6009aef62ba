import type { SnapshotPolicy } from '../gateway/gateway-config.ts'
import type { ResolvedInputLimits } from '../persistence/limits.ts'
import type { ReaderRetry } from './cqrs-pattern.ts'

/** A plain, JSON-safe description of a topology: what `CqrsTopology.describe()` returns. */
export interface CqrsTopologyDescription {
  readonly name: string
  readonly aggregates: readonly {
    readonly type: string
    readonly machineId: string
    readonly version: string
    readonly commands: readonly string[]
    readonly events: readonly string[]
    readonly invariants: readonly string[]
  }[]
  readonly journal: string
  readonly readJournal: string | undefined
  readonly recoveryPermits: number
  readonly pollIntervalMs: number
  readonly repositoryTimeoutMs: number
  readonly writerId: string
  readonly snapshots: { readonly policy: SnapshotPolicy; readonly keepLast: number } | undefined
  readonly dedupeWindow: number
  readonly readerRetry: ReaderRetry | undefined
  readonly interceptors: readonly string[]
  readonly listeners: readonly string[]
  readonly taps: readonly {
    readonly name: string
    readonly events: boolean
    readonly commands: boolean
    readonly bufferSize: number
    readonly overflow: string
  }[]
  readonly readers: readonly {
    readonly name: string
    readonly filter: unknown
    readonly [key: string]: unknown
  }[]
  readonly passivation: { readonly idleTimeoutMs: number; readonly maxLive: number }
  readonly restartLimit: { readonly maxRestarts: number; readonly withinMs: number }
  readonly commandQueue: { readonly maxPerAggregate: number; readonly maxTotal: number }
  /** The size limits the journal enforces (and the gateway checks ids against at intake). */
  readonly limits: ResolvedInputLimits
}
