import {
  type EventMetadata,
  type SendResult,
  StatesourceError,
  type StatesourceErrorCode,
} from '@statesource/core'

/** A command forwarded to a shard's owner. */
export interface WireCommand {
  readonly aggregateType: string
  readonly id: string
  readonly command: { readonly type: string }
  readonly expectedVersion?: number
  readonly commandId: string
  readonly metadata?: EventMetadata
  /** What is left of the command's timeout when it was sent. */
  readonly remainingMs: number
}

/** The owner's answer: a result, a typed error, or "not mine (any more), ask again". */
export type WireReply =
  | { readonly ok: SendResult }
  | { readonly error: WireError }
  | { readonly retry: string }

export interface WireError {
  readonly code: StatesourceErrorCode
  readonly name: string
  readonly message: string
  readonly fields: Record<string, unknown>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encode(value: WireCommand | WireReply): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

export function decode<T extends WireCommand | WireReply>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T
}

/** A statesource error as data: its code, name, message and own enumerable fields (ids, versions, reason). */
export function toWireError(error: StatesourceError): WireError {
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(error)) {
    if (key !== 'code' && key !== 'name' && key !== 'message' && key !== 'cause') fields[key] = value
  }
  return { code: error.code, name: error.name, message: error.message, fields }
}

/** Rebuilds a remote error: a `StatesourceError` with the same code, name, message and fields. */
export function fromWireError(wire: WireError): StatesourceError {
  const error = new StatesourceError(wire.code, wire.message)
  error.name = wire.name
  Object.assign(error, wire.fields)
  return error
}
