import type { AnyActorLogic, AnyActorRef, AnyMachineSnapshot } from 'xstate'
import { isRejection, type Rejection, reject } from '../aggregate/define-aggregate.ts'
import { CommandRejectedError, NotConfiguredError } from '../errors.ts'
import type { EventMetadata } from '../persistence/envelope.ts'

/**
 * What an interceptor sees: the command, its metadata, the aggregate id and its current state.
 *
 * @example
 * ```ts
 * const onlyOpen: InterceptorFn = (context: InterceptorContext) =>
 *   context.state.matches('open') ? undefined : reject(`"${context.id}" is not open`)
 * ```
 */
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

/**
 * Pass (nothing), reject ({@link reject}), or pass with extra metadata (merged into the command's metadata).
 *
 * @example
 * ```ts
 * const stamp: InterceptorFn = (): InterceptorResult => ({ metadata: { source: 'api' } })
 * ```
 */
export type InterceptorResult = void | undefined | Rejection | { readonly metadata: EventMetadata }

/**
 * A function run before `decide`; may be async. Throwing counts as a rejection.
 *
 * @example
 * ```ts
 * const positive: InterceptorFn = ({ command }) =>
 *   (command as { amount?: number }).amount === 0 ? reject('amount must not be zero') : undefined
 * ```
 */
export type InterceptorFn = (
  context: InterceptorContext<any>,
) => InterceptorResult | Promise<InterceptorResult>

/**
 * A named function interceptor, optionally limited to some aggregate types.
 *
 * @example
 * ```ts
 * const audit: FunctionInterceptor = {
 *   name: 'audit',
 *   aggregates: ['account'],
 *   intercept: ({ metadata }) => ({ metadata: { ...metadata, audited: true } }),
 * }
 * ```
 */
export interface FunctionInterceptor {
  readonly name: string
  readonly intercept: InterceptorFn
  /** Only run for these aggregate types (default: all). */
  readonly aggregates?: readonly string[]
}

/**
 * An interceptor given as XState actor logic. The gateway spawns it once, as its child, in the gateway's
 * system (so it appears in inspection), sends it an {@link InterceptRequest} per command and waits for
 * the answer: an {@link InterceptPass} or {@link InterceptReject} event sent to `replyTo`.
 *
 * @example
 * ```ts
 * const guard: ActorInterceptor = { name: 'guard', logic: interceptorMachine, timeoutMs: 1_000 }
 * ```
 */
export interface ActorInterceptor {
  readonly name: string
  readonly logic: AnyActorLogic
  /** Only run for these aggregate types (default: all). */
  readonly aggregates?: readonly string[]
  /** Reject the command when the actor has not answered within this time. Default 5,000 ms. */
  readonly timeoutMs?: number
}

/**
 * An interceptor: a named function or named actor logic.
 *
 * @example
 * ```ts
 * const interceptors: Interceptor[] = [{ name: 'noop', intercept: () => undefined }]
 * ```
 */
export type Interceptor = FunctionInterceptor | ActorInterceptor

/**
 * The request an interceptor actor receives. Answer it with `sendTo(replyTo, interceptPass(request))` or
 * `sendTo(replyTo, interceptReject(request, reason))`.
 *
 * @example
 * ```ts
 * const answer = (request: InterceptRequest) => interceptPass(request, { checkedBy: 'guard' })
 * ```
 */
export interface InterceptRequest {
  readonly type: 'statesource.intercept'
  /** Echo it in the answer: it pairs the answer with the command. */
  readonly requestId: string
  readonly context: InterceptorContext
  readonly replyTo: AnyActorRef
}

/**
 * An interceptor actor's answer that lets the command through, optionally with extra metadata.
 *
 * @example
 * ```ts
 * const pass: InterceptPass = { type: 'statesource.intercept.pass', requestId: 'r-1' }
 * ```
 */
export interface InterceptPass {
  readonly type: 'statesource.intercept.pass'
  readonly requestId: string
  readonly metadata?: EventMetadata
}

/**
 * An interceptor actor's answer that rejects the command with a reason.
 *
 * @example
 * ```ts
 * const no: InterceptReject = { type: 'statesource.intercept.reject', requestId: 'r-1', reason: 'not allowed' }
 * ```
 */
export interface InterceptReject {
  readonly type: 'statesource.intercept.reject'
  readonly requestId: string
  readonly reason: string
  readonly details?: unknown
}

/**
 * Builds the answer that lets a command through.
 *
 * @example
 * ```ts
 * // in a machine: actions: sendTo(({ event }) => event.replyTo, ({ event }) => interceptPass(event))
 * const answer = interceptPass({ requestId: 'r-1' }, { tenant: 't-1' })
 * ```
 */
export function interceptPass(
  request: Pick<InterceptRequest, 'requestId'>,
  metadata?: EventMetadata,
): InterceptPass {
  return metadata === undefined
    ? { type: 'statesource.intercept.pass', requestId: request.requestId }
    : { type: 'statesource.intercept.pass', requestId: request.requestId, metadata }
}

/**
 * Builds the answer that rejects a command.
 *
 * @example
 * ```ts
 * const answer = interceptReject({ requestId: 'r-1' }, 'the account is frozen')
 * ```
 */
export function interceptReject(
  request: Pick<InterceptRequest, 'requestId'>,
  reason: string,
  details?: unknown,
): InterceptReject {
  return details === undefined
    ? { type: 'statesource.intercept.reject', requestId: request.requestId, reason }
    : { type: 'statesource.intercept.reject', requestId: request.requestId, reason, details }
}

/**
 * True when `value` looks like XState actor logic (a machine, `fromPromise`, `fromTransition`, ...).
 *
 * @example
 * ```ts
 * isActorLogic(createMachine({})) // true
 * isActorLogic(() => undefined) // false
 * ```
 */
export function isActorLogic(value: unknown): value is AnyActorLogic {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { transition?: unknown }).transition === 'function' &&
    typeof (value as { getInitialSnapshot?: unknown }).getInitialSnapshot === 'function'
  )
}

/**
 * Normalises a function, actor logic or an interceptor object into a named {@link Interceptor}.
 *
 * @example
 * ```ts
 * const named = toInterceptor(function checkAmount() {}, 0) // { name: 'checkAmount', intercept }
 * ```
 */
export function toInterceptor(
  input: Interceptor | InterceptorFn | AnyActorLogic,
  index: number,
): Interceptor {
  if (typeof input === 'function') return { name: input.name || `interceptor-${index + 1}`, intercept: input }
  if (isActorLogic(input)) {
    const id = (input as { id?: unknown }).id
    return { name: typeof id === 'string' && id.length > 0 ? id : `interceptor-${index + 1}`, logic: input }
  }
  const candidate = input as Partial<FunctionInterceptor & ActorInterceptor> | undefined
  if (!candidate || typeof candidate.name !== 'string' || candidate.name.length === 0) {
    throw new NotConfiguredError(
      'interceptor',
      `Interceptor ${index + 1} must be a function, actor logic, { name, intercept } or { name, logic }; got ${describe(input)}.`,
    )
  }
  if (typeof candidate.intercept !== 'function' && !isActorLogic(candidate.logic)) {
    throw new NotConfiguredError(
      'interceptor',
      `Interceptor "${candidate.name}" has neither an intercept function nor actor logic. Give it one of them.`,
    )
  }
  if (
    candidate.timeoutMs !== undefined &&
    !(Number.isFinite(candidate.timeoutMs) && candidate.timeoutMs > 0)
  ) {
    throw new NotConfiguredError(
      'interceptor',
      `Interceptor "${candidate.name}" timeoutMs must be a positive number of milliseconds, got ${candidate.timeoutMs}.`,
    )
  }
  return input as Interceptor
}

/**
 * Runs the interceptors in registration order. Returns the (possibly enriched) metadata, or throws a
 * {@link CommandRejectedError} naming the interceptor that refused (or threw).
 *
 * @remarks Actor interceptors need the gateway that spawned them; here they must have been resolved to
 * functions first (the gateway does this), otherwise this throws `NOT_CONFIGURED`.
 *
 * @example
 * ```ts
 * const metadata = await runInterceptors([{ name: 'stamp', intercept: () => ({ metadata: { a: 1 } }) }], context)
 * ```
 */
export async function runInterceptors(
  interceptors: readonly Interceptor[],
  context: InterceptorContext,
): Promise<EventMetadata> {
  let metadata = context.metadata
  for (const interceptor of interceptors) {
    if (interceptor.aggregates && !interceptor.aggregates.includes(context.aggregateType)) continue
    if (!('intercept' in interceptor) || typeof interceptor.intercept !== 'function') {
      throw new NotConfiguredError(
        'interceptor',
        `Interceptor "${interceptor.name}" is actor logic and runs only inside a gateway; register it with the builder's onCommand().`,
      )
    }
    let result: InterceptorResult
    try {
      const maybe = interceptor.intercept({ ...context, metadata })
      result = maybe instanceof Promise ? await maybe : maybe
    } catch (error) {
      throw new CommandRejectedError(
        context.persistenceId,
        context.command.type,
        `it failed: ${(error as Error)?.message ?? String(error)}`,
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
    if (result && typeof result === 'object' && 'metadata' in result) {
      const extra = result.metadata
      if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
        throw new CommandRejectedError(
          context.persistenceId,
          context.command.type,
          `it returned metadata that is not a plain object (${describe(extra)}); return { metadata: { key: value } }`,
          'interceptor',
          undefined,
          { by: interceptor.name },
        )
      }
      // commandId and commandHash belong to idempotency: an interceptor may add metadata, not rewrite them.
      const merged: EventMetadata = { ...metadata, ...extra }
      for (const key of ['commandId', 'commandHash'] as const) {
        if (metadata[key] === undefined) delete merged[key]
        else merged[key] = metadata[key]
      }
      metadata = merged
    }
  }
  return metadata
}

/** @internal Turns an interceptor actor's answer into an {@link InterceptorResult}. */
export function toInterceptorResult(answer: InterceptPass | InterceptReject): InterceptorResult {
  if (answer.type === 'statesource.intercept.reject') {
    return reject(typeof answer.reason === 'string' ? answer.reason : 'rejected', answer.details)
  }
  return answer.metadata === undefined ? undefined : { metadata: answer.metadata }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}
