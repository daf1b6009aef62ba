import { reject } from '../aggregate/define-aggregate.ts'
import { NotConfiguredError } from '../errors.ts'
import type { FunctionInterceptor, InterceptorContext, InterceptorResult } from './interceptor.ts'

/**
 * The part of the Standard Schema v1 interface (`~standard`) that validation needs. Zod (3.24+), Valibot
 * (1+), ArkType (2+) and others implement it, so any of them can validate commands without an adapter.
 *
 * @example
 * ```ts
 * const positive: StandardSchemaLike = {
 *   '~standard': {
 *     version: 1,
 *     vendor: 'hand-made',
 *     validate: (v) => ((v as { amount?: number }).amount ?? 0) > 0 ? { value: v } : { issues: [{ message: 'amount must be positive', path: ['amount'] }] },
 *   },
 * }
 * ```
 */
export interface StandardSchemaLike {
  readonly '~standard': {
    readonly version: 1
    readonly vendor: string
    readonly validate: (value: unknown) => StandardResult | Promise<StandardResult>
  }
}

type StandardResult =
  | { readonly value: unknown; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string
        readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined
      }>
    }

/**
 * Options of {@link validateWith}.
 *
 * @example
 * ```ts
 * const options: ValidateWithOptions = { name: 'account-schemas', aggregates: ['account'], unknownCommands: 'reject' }
 * ```
 */
export interface ValidateWithOptions {
  /** The interceptor's name (it names the rejections). Default `'validate'`. */
  readonly name?: string
  /** Only validate commands of these aggregate types. Default: all. */
  readonly aggregates?: readonly string[]
  /** What to do with a command type that has no schema: let it through (default) or reject it. */
  readonly unknownCommands?: 'pass' | 'reject'
}

/**
 * An interceptor that validates each command against the schema registered for its type, using any
 * Standard Schema library (Zod, Valibot, ArkType, ...). An invalid command is rejected with the issues as
 * the reason (`"amount: Expected number"`) and in `details`; nothing is written.
 *
 * @example
 * ```ts
 * import { z } from 'zod'
 * builder.onCommand(validateWith({ deposit: z.object({ type: z.literal('deposit'), amount: z.number().positive() }) }))
 * ```
 */
export function validateWith(
  schemas: Readonly<Record<string, StandardSchemaLike>>,
  options: ValidateWithOptions = {},
): FunctionInterceptor {
  for (const [type, schema] of Object.entries(schemas)) {
    if (typeof schema?.['~standard']?.validate !== 'function') {
      throw new NotConfiguredError(
        'interceptor',
        `The schema for command "${type}" is not a Standard Schema (no ~standard.validate). Use Zod 3.24+, Valibot 1+, ArkType 2+ or wrap your validator.`,
      )
    }
  }
  const unknownCommands = options.unknownCommands ?? 'pass'
  const intercept = async ({ command }: InterceptorContext): Promise<InterceptorResult> => {
    const schema = Object.hasOwn(schemas, command.type) ? schemas[command.type] : undefined
    if (!schema) {
      return unknownCommands === 'reject'
        ? reject(`there is no schema for command "${command.type}"; add one to validateWith()`)
        : undefined
    }
    const result = await schema['~standard'].validate(command)
    if (!result.issues) return undefined
    const issues = result.issues.map((issue) => ({
      message: issue.message,
      path: (issue.path ?? []).map((p) => String(typeof p === 'object' && p !== null ? p.key : p)),
    }))
    const reason = issues
      .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
      .join('; ')
    return reject(reason || 'the command is invalid', { issues })
  }
  return {
    name: options.name ?? 'validate',
    intercept,
    ...(options.aggregates ? { aggregates: options.aggregates } : {}),
  }
}
