import { StatesourceError } from '../errors.ts'
import type { EventEnvelope } from '../persistence/envelope.ts'

/** Where a reader failed: the event's position in the journal. */
export interface EventPosition {
  readonly ordering: number
  readonly persistenceId: string
  readonly seqNr: number
  /** `type@version` as stored. */
  readonly manifest: string
}

/** @internal */
export function positionOf(envelope: EventEnvelope): EventPosition {
  return {
    ordering: envelope.ordering,
    persistenceId: envelope.persistenceId,
    seqNr: envelope.seqNr,
    manifest: `${envelope.type}@${envelope.version}`,
  }
}

/**
 * A reader stopped at an event (its error policy is `'halt'`), or was stopped while a caller waited on it.
 *
 * @example
 * ```ts
 * try {
 *   await handle.waitForOffset(result.ordering)
 * } catch (error) {
 *   if (error instanceof ProjectionError) console.log(error.projection, error.position?.ordering)
 * }
 * ```
 */
export class ProjectionError extends StatesourceError {
  override readonly name = 'ProjectionError'
  constructor(
    readonly projection: string,
    readonly position: EventPosition | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('PROJECTION_FAILED', message, options)
  }

  /** @internal */
  static halted(
    projection: string,
    position: EventPosition,
    cause: unknown,
    attempts: number,
  ): ProjectionError {
    return new ProjectionError(
      projection,
      position,
      `Reader "${projection}" halted at event ${position.seqNr} of "${position.persistenceId}" (ordering ${position.ordering}, "${position.manifest}") after ${attempts} attempt(s): ${messageOf(cause)}. Fix the cause, then call resume() on its handle or rebuildProjection("${projection}").`,
      { cause },
    )
  }
}

/** @internal */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
