import { StatesourceError } from '../errors.ts'

/**
 * Refuses text that is not well-formed Unicode (a lone UTF-16 surrogate such as `'\uD800'`) with an
 * `INVALID_INPUT` error naming `field`. Every text that reaches a text column goes through here first
 * (ids, tags, event types, reader names, offset names, ...): SQLite and PostgreSQL store UTF-8, which cannot
 * hold a lone surrogate, so the driver would silently replace it with U+FFFD and two different ids would
 * become one.
 *
 * @example
 * ```ts
 * checkText(persistenceId, 'persistenceId') // throws INVALID_INPUT for 'x\uDC00'
 * ```
 *
 * @remarks
 * Payloads and metadata need no check: they are stored as JSON, which escapes lone surrogates (`"\udc00"`),
 * so they come back exactly.
 */
export function checkText(value: string, field: string): void {
  if (typeof value === 'string' && !isWellFormed(value)) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The ${field} ${describeText(value)} is not well-formed Unicode: it has a lone UTF-16 surrogate at index ${loneSurrogateAt(value)}. Stored as UTF-8 it would be changed, so it is refused; pass well-formed text (for example from encodeURIComponent or a UUID).`,
    )
  }
}

/** {@link checkText} over each of `values`, naming the field `field`. */
export function checkTexts(values: readonly string[], field: string): void {
  for (const value of values) checkText(value, field)
}

const hasNativeCheck = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'

function isWellFormed(value: string): boolean {
  if (hasNativeCheck) return (value as string & { isWellFormed(): boolean }).isWellFormed()
  return loneSurrogateAt(value) < 0
}

/** The index of the first lone surrogate, or -1. */
function loneSurrogateAt(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
      return i
    }
    if (c >= 0xdc00 && c <= 0xdfff) return i
  }
  return -1
}

/** The value quoted with escapes (JSON escapes lone surrogates), cut to 80 characters. */
function describeText(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value
  return JSON.stringify(shown)
}
