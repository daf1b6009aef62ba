// Hot path: measured by packages/bench/src/cases/read-side-case.ts and packages/bench/src/cases/recovery-case.ts (pnpm bench). Measure before and after changing this file.
import { UnknownManifestError } from '../errors.ts'
import type { EventEnvelope } from '../persistence/envelope.ts'

/** A decoded domain event: what the aggregate's machine and readers receive. */
export interface DomainEvent {
  readonly type: string
  readonly [key: string]: unknown
}

/** Turns a stored payload (already upcast to this manifest's version) into a domain event. */
export type EventDecoder = (payload: unknown, envelope: EventEnvelope) => DomainEvent
/** Turns a payload of version `n` into a payload of version `n + 1`. */
export type Upcaster = (payload: unknown, envelope: EventEnvelope) => unknown

const identity: EventDecoder = (payload, envelope) => eventOf(payload, envelope.type)

/**
 * Manifest (event type + version) to decoder, with upcaster chains and a catch-all. It is used by readers
 * **and** by write-side recovery, so an aggregate can replay events written by older code.
 *
 * @example
 * ```ts
 * const codecs = new EventCodecRegistry()
 *   // v1 stored cents as a string; v2 stores a number
 *   .upcast('deposited', 1, (p) => ({ amount: Number((p as { cents: string }).cents) / 100 }))
 *   .register('deposited', 2)
 * ```
 *
 * @remarks
 * Decoding `type@v`: apply upcasters `v → v+1 → …` while one is registered, then use the decoder registered
 * for the resulting manifest, then the catch-all; with none of them, the manifest is unknown and decoding
 * throws an {@link UnknownManifestError}. Each aggregate given to the builder registers its own event
 * types at their current versions.
 */
export class EventCodecRegistry {
  readonly #decoders = new Map<string, EventDecoder>()
  readonly #upcasters = new Map<string, Upcaster>()
  #fallback: EventDecoder | undefined
  /**
   * Type, then version, to the decoder of a manifest no upcaster applies to: filled as events are decoded,
   * cleared by every registration. It spares building the `type@version` key and two lookups of it per event.
   */
  readonly #direct = new Map<string, Map<number, EventDecoder>>()

  /** Registers a decoder for `type@version` (identity when omitted). Registering again replaces it. */
  register(type: string, version = 1, decoder: EventDecoder = identity): this {
    this.#decoders.set(key(type, version), decoder)
    this.#direct.clear()
    return this
  }

  /** Registers the step from `fromVersion` to `fromVersion + 1` of `type`. */
  upcast(type: string, fromVersion: number, upcaster: Upcaster): this {
    this.#upcasters.set(key(type, fromVersion), upcaster)
    this.#direct.clear()
    return this
  }

  /**
   * Registers the catch-all decoder, for manifests nothing else decodes (identity when omitted). Registering
   * again replaces it.
   *
   * @example
   * ```ts
   * const codecs = new EventCodecRegistry().registerDefault() // events of other services, kept as stored
   * ```
   */
  registerDefault(decoder: EventDecoder = identity): this {
    this.#fallback = decoder
    return this
  }

  /** @deprecated Use {@link EventCodecRegistry.registerDefault}: the registry's methods are verbs. */
  withDefault(decoder: EventDecoder = identity): this {
    return this.registerDefault(decoder)
  }

  /** True when `type@version` can be decoded without the catch-all. */
  knows(type: string, version: number): boolean {
    return this.#resolve(type, version) !== undefined
  }

  /** Copies every registration of `other` that this registry does not have yet. */
  merge(other: EventCodecRegistry): this {
    for (const [k, v] of other.#decoders) if (!this.#decoders.has(k)) this.#decoders.set(k, v)
    for (const [k, v] of other.#upcasters) if (!this.#upcasters.has(k)) this.#upcasters.set(k, v)
    this.#fallback ??= other.#fallback
    this.#direct.clear()
    return this
  }

  /** Decodes an envelope into its current domain event, or throws {@link UnknownManifestError}. */
  decode(envelope: EventEnvelope): DomainEvent {
    const direct = this.#directDecoder(envelope.type, envelope.version)
    // The default decoder needs no envelope: every event of a catch-up passes here, so no copy of it.
    if (direct === identity) return eventOf(envelope.payload, envelope.type)
    if (direct) return withType(direct(envelope.payload, envelope), envelope.type)
    let version = envelope.version
    let payload = envelope.payload
    for (let steps = 0; ; steps++) {
      const manifest = key(envelope.type, version)
      const up = this.#upcasters.get(manifest)
      if (up && steps < 1000) {
        payload = up(payload, envelope)
        version++
        continue
      }
      const decoder = this.#decoders.get(manifest)
      if (decoder === identity) return eventOf(payload, envelope.type)
      if (decoder) {
        // The envelope as the decoder's version sees it (the stored one unless upcasters ran).
        const seen = steps === 0 ? envelope : { ...envelope, version, payload }
        return withType(decoder(payload, seen), envelope.type)
      }
      break
    }
    if (this.#fallback) return withType(this.#fallback(envelope.payload, envelope), envelope.type)
    throw new UnknownManifestError(
      `${envelope.type}@${envelope.version}`,
      envelope.persistenceId,
      envelope.seqNr,
    )
  }

  /** The decoder of `type@version` when no upcaster applies to it (remembered in `#direct`). */
  #directDecoder(type: string, version: number): EventDecoder | undefined {
    const known = this.#direct.get(type)?.get(version)
    if (known) return known
    const manifest = key(type, version)
    if (this.#upcasters.has(manifest)) return undefined
    const decoder = this.#decoders.get(manifest)
    if (decoder) {
      const byVersion = this.#direct.get(type) ?? new Map<number, EventDecoder>()
      byVersion.set(version, decoder)
      this.#direct.set(type, byVersion)
    }
    return decoder
  }

  #resolve(type: string, version: number): EventDecoder | undefined {
    let v = version
    for (let steps = 0; steps < 1000 && this.#upcasters.has(key(type, v)); steps++) v++
    return this.#decoders.get(key(type, v))
  }
}

function key(type: string, version: number): string {
  return `${type}@${version}`
}

function withType(event: DomainEvent, type: string): DomainEvent {
  return typeof event.type === 'string' ? event : eventOf(event, type)
}

/**
 * `{ ...payload, type }`, built the way V8 does quickly: that literal clones the payload and then adds `type`
 * to the clone, a slow path of ~1 µs an event (about 10x `Object.assign` into a new object, and a sixth of
 * a catch-up's time). `Object.assign` copies the same own enumerable properties in the same order, but sets
 * them where the spread defines them; the two differ only for an own `__proto__` key (JSON.parse makes one,
 * the setter would change the copy's prototype) and when `Object.prototype` is frozen (setting a key it has,
 * such as `constructor`, throws), so those take the spread.
 */
function eventOf(payload: unknown, type: string): DomainEvent {
  if (typeof payload === 'object' && payload !== null && !Object.hasOwn(payload, '__proto__')) {
    try {
      const event: { type: string } = Object.assign({}, payload) as { type: string }
      event.type = type
      return event
    } catch {
      // Fall through to the spread, whose result or error is the one to give.
    }
  }
  return { ...(payload as object), type }
}
