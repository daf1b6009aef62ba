// @statesource/core/internal: what the other packages of this repository (sqlite, inspect, and the ones to
// come) need from core and applications do not. Not a stable API: names and signatures here change in any
// release, minor and patch included, without notice. Applications import from `@statesource/core` only.

// Decoding and describing stored events the way the gateway's recovery does (the journal audit of inspect)
export { decodeForAggregate } from '../aggregate/replay.ts'
export { describeState } from '../aggregate/validate-events.ts'

// An aggregate's effect-free stepping through its machine (replay in the journal audit and the viewer)
export type { MachineRuntime } from './machine-runtime.ts'
export { runtimeOf } from '../aggregate/define-aggregate.ts'

// The gateway's actor logic, for a gateway that runs one core gateway per shard (@statesource/cluster)
export { createGatewayLogic } from '../gateway/gateway-logic.ts'

// Event payloads and metadata serialized for storage, with a fast path for plain JSON (every SQL journal's append)
export { type EncodedJson, encodeEventJson, encodeEventMetadata } from './json.ts'

// An append request checked and serialized for storage (every SQL journal's append)
export {
  type AppendEncoding,
  type EncodedEvent,
  type EncodedAppendCall,
  encodeAppendRequest,
  encodeAppendRequests,
  type PendingAppend,
} from './append-request.ts'
