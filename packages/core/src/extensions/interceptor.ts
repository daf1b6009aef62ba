import type { AnyMachineSnapshot } from 'xstate'
import { type Rejection, isRejection } from '../aggregate/define-aggregate.ts'
import { CommandRejectedError } from '../errors.ts'
import type { EventMetadata } from '../persistence/envelope.ts'

/** What an interceptor sees: the command, its metadata and the aggregate's current state. */
export interface InterceptorContext<TCommand extends { type: string } = { type: string }> {
  readonly command: TCommand
  readonly metadata: EventMetadata
  readonly aggregateType: string
  readonly id: string
  readonly persistenceId: string
  /** The aggregate's current machine snapshot (so a rule can depend on the state). */
  readonly state: AnyMachineSnapshot
  /** The aggregate's current version (sequence number of its last event). */
  readonly version: number
}

/** Pass (nothing), reject ({@link reject}), or pass with extra metadata. */
export type InterceptorResult = void | undefined | Rejection | { readonly metadata: EventMetadata }

/** A function run before `decide`; may be async. Throwing counts as a rejection. */
export type InterceptorFn = (context: InterceptorContext<any>) => InterceptorResult | Promise<InterceptorResult>

/** A named interceptor, optionally limited to some aggregate types. */
export interface Interceptor {
  readonly name: string
  readonly intercept: InterceptorFn
  /** Only run for these aggregate types (default: all). */
  readonly aggregates?: readonly string[]
}

/** Normalises a function or an interceptor object. */
export function toInterceptor(input: Interceptor | InterceptorFn, index: number): Interceptor {
  if (typeof input === 'function') return { name: input.name || `interceptor-${index + 1}`, intercept: input }
  if (!input || typeof input.intercept !== 'function') {
    throw new TypeError(`Interceptor ${index + 1} must be a function or { name, intercept }.`)
  }
  return input
}

/**
 * Runs the interceptors in registration order. Returns the (possibly enriched) metadata, or throws a
 * {@link CommandRejectedError} naming the interceptor that refused (or threw).
 */
export async function runInterceptors(
  interceptors: readonly Interceptor[],
  context: InterceptorContext,
): Promise<EventMetadata> {
  let metadata = context.metadata
  for (const interceptor of interceptors) {
    if (interceptor.aggregates && !interceptor.aggregates.includes(context.aggregateType)) continue
    let result: InterceptorResult
    try {
      const maybe = interceptor.intercept({ ...context, metadata })
      result = maybe instanceof Promise ? await maybe : maybe
    } catch (error) {
      throw new CommandRejectedError(
        context.persistenceId,
        context.command.type,
        `it threw: ${(error as Error)?.message ?? String(error)}`,
        'interceptor',
        undefined,
        { cause: error, by: interceptor.name },
      )
    }
    if (isRejection(result)) {
      throw new CommandRejectedError(
        context.persistenceId,
        context.command.type,
        result.reason,
        'interceptor',
        result.details,
        { by: interceptor.name },
      )
    }
    if (result && typeof result === 'object' && 'metadata' in result) metadata = { ...metadata, ...result.metadata }
  }
  return metadata
}
