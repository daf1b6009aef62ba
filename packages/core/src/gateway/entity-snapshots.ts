// Hot path: measured by packages/bench/src/cases/statesource-case.ts and packages/bench/src/cases/recovery-case.ts (pnpm bench). Measure before and after changing this file.
import { CQRS_DEFAULTS } from '../defaults.ts'
import type { Logger } from '../logger.ts'
import type { SnapshotStore, StoredSnapshot } from '../persistence/snapshot-store.ts'
import type { Entity } from './entity.ts'
import type { SnapshotPolicy } from './gateway-config.ts'
import type { CommandRecord, Idempotency } from './idempotency.ts'

const SNAPSHOT_FORMAT = 'statesource.snapshot.v1'

/** What the gateway stores as a snapshot's `state` (a format: inspect's journal audit reads it too). */
export interface SnapshotBody {
  readonly format: typeof SNAPSHOT_FORMAT
  /** The machine's persisted snapshot. */
  readonly machine: unknown
  /** The command ids remembered at the snapshot, so that idempotency survives the events it replaces. */
  readonly dedupe?: readonly [string, CommandRecord][]
}

/** The body of a snapshot the gateway wrote, or undefined for anything else. */
export function readSnapshotBody(stored: StoredSnapshot | undefined): SnapshotBody | undefined {
  const body: unknown = stored?.state
  if (typeof body !== 'object' || body === null || !('format' in body) || body.format !== SNAPSHOT_FORMAT) {
    return undefined
  }
  // Written by `EntitySnapshots.save` below; the format marks it as such.
  return body as SnapshotBody
}

/** Options of {@link EntitySnapshots}. */
export interface EntitySnapshotsConfig {
  readonly store: SnapshotStore | undefined
  readonly policy: SnapshotPolicy | undefined
  readonly keepLast: number | undefined
  readonly idempotency: Idempotency
  readonly logger: Logger
  /** Saves are not awaited by the command that triggered them; `drain()` waits for what it tracks. */
  readonly track: (promise: Promise<unknown>) => void
}

/** Writes aggregate snapshots: by the snapshot policy after commands, and on demand (passivation, `snapshotNow`). */
export class EntitySnapshots {
  readonly #config: EntitySnapshotsConfig

  constructor(config: EntitySnapshotsConfig) {
    this.#config = config
  }

  /** Saves a snapshot if the policy asks for one after this command. */
  afterCommand(entity: Entity): void {
    const policy = this.#config.policy ?? 'manual'
    if (policy === 'manual' || entity.eventsSinceSnapshot < policy.every) return
    this.save(entity)
  }

  /** Saves a snapshot now, if a store is configured and the entity has events no snapshot covers. */
  save(entity: Entity): void {
    const { store, logger } = this.#config
    if (!store || !entity.state || entity.eventsSinceSnapshot === 0) return
    entity.eventsSinceSnapshot = 0
    const body: SnapshotBody = {
      format: SNAPSHOT_FORMAT,
      machine: entity.aggregate.runtime.persist(entity.state),
      dedupe: this.#config.idempotency.durable(entity),
    }
    const snapshot = {
      persistenceId: entity.pid,
      seqNr: entity.seqNr,
      state: body,
      machineVersion: entity.aggregate.version,
      timestamp: Date.now(),
    }
    this.#config.track(
      store
        .save(snapshot, { keepLast: this.#config.keepLast ?? CQRS_DEFAULTS.snapshotKeepLast })
        .catch((error) => {
          logger.warn(
            `Saving a snapshot of "${entity.pid}" at ${snapshot.seqNr} failed: ${(error as Error)?.message ?? error}`,
            { persistenceId: entity.pid, error },
          )
        }),
    )
  }
}
