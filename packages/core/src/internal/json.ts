import { StatesourceError } from '../errors.ts'

/**
 * `JSON.stringify` that refuses what JSON would silently mangle: functions, symbols, BigInt,
 * cycles and non-finite numbers. Throws a `SERIALIZATION_FAILED` error naming `what`.
 */
export function toJson(value: unknown, what: string): string {
  const replacer = (key: string, v: unknown): unknown => {
    switch (typeof v) {
      case 'function':
      case 'symbol':
        throw new StatesourceError(
          'SERIALIZATION_FAILED',
          `${what} cannot be stored: ${describeKey(key)} is a ${typeof v}. Store plain JSON data only.`,
        )
      case 'bigint':
        throw new StatesourceError(
          'SERIALIZATION_FAILED',
          `${what} cannot be stored: ${describeKey(key)} is a BigInt. Convert it to a string or number first.`,
        )
      case 'number':
        if (!Number.isFinite(v)) {
          throw new StatesourceError(
            'SERIALIZATION_FAILED',
            `${what} cannot be stored: ${describeKey(key)} is ${v}, which JSON cannot represent.`,
          )
        }
        return v
      default:
        return v
    }
  }
  try {
    const json = JSON.stringify(value, replacer)
    if (json === undefined) {
      throw new StatesourceError('SERIALIZATION_FAILED', `${what} cannot be stored: it is not JSON data.`)
    }
    return json
  } catch (error) {
    if (error instanceof StatesourceError) throw error
    throw new StatesourceError(
      'SERIALIZATION_FAILED',
      `${what} cannot be stored: ${(error as Error).message}. Store plain, acyclic JSON data only.`,
      { cause: error },
    )
  }
}

function describeKey(key: string): string {
  return key === '' ? 'the value' : `property "${key}"`
}
