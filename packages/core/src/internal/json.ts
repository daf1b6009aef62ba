// Hot path: measured by packages/sqlite/bench/journal-bench.ts (pnpm bench). Measure before and after changing this file.
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

/** A part of an event serialized for storage, and the value a replay of it would give back. */
export interface EncodedJson {
  readonly json: string
  readonly value: unknown
}

/** An event's metadata for storage: empty metadata (the common case) shares one encoding. */
export function encodeEventMetadata(metadata: unknown, type: string): EncodedJson {
  return isEmptyObject(metadata ?? {}) ? EMPTY_METADATA : encodeEventJson(metadata, 'metadata', type)
}

const EMPTY_METADATA: EncodedJson = {
  json: '{}',
  get value(): unknown {
    return {}
  },
}

/**
 * Serializes with core's `toJson` semantics and returns the value a replay would give back.
 *
 * @remarks
 * Fast path: plain JSON data (plain objects and arrays, strings, booleans, null, finite numbers; no
 * `undefined`, no `-0`, no `toJSON`, no class instances) goes straight to the native `JSON.stringify`,
 * 2-3x faster than a replacer, and, since parsing its JSON would rebuild the same structure, the value itself
 * is returned instead of a parsed copy. Anything else, errors included, goes through `toJson`, and the
 * value returned is the parsed JSON (a `Date` becomes its ISO string, as in a replay).
 */
export function encodeEventJson(value: unknown, part: string, type: string): EncodedJson {
  if (typeof value === 'object' && value !== null && isPlainData(value, 0)) {
    return { json: JSON.stringify(value), value }
  }
  const json = toJson(value, `Event "${type}" ${part}`)
  return { json, value: JSON.parse(json) as unknown }
}

function isPlainData(value: object, depth: number): boolean {
  // Deep structures (and cycles) take the slow path, which reports cycles properly.
  if (depth > 32) return false
  const proto = Object.getPrototypeOf(value)
  if (proto === Array.prototype) {
    const array = value as unknown[]
    for (let i = 0; i < array.length; i++) if (!isPlainItem(array[i], depth)) return false
    return true
  }
  if (proto !== Object.prototype && proto !== null) return false
  const keys = Object.keys(value)
  for (let i = 0; i < keys.length; i++) {
    if (!isPlainItem((value as Record<string, unknown>)[keys[i]!], depth)) return false
  }
  return true
}

function isPlainItem(item: unknown, depth: number): boolean {
  switch (typeof item) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(item) && !Object.is(item, -0)
    case 'object':
      return item === null || isPlainData(item, depth + 1)
    default:
      // undefined (JSON drops it), functions, symbols, BigInt: the slow path decides.
      return false
  }
}

function isEmptyObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype)
    return false
  for (const key in value) if (Object.hasOwn(value, key)) return false
  return true
}
