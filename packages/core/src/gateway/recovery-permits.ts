import { NotConfiguredError } from '../errors.ts'

/** A counting semaphore bounding concurrent aggregate recoveries. */
export class RecoveryPermits {
  readonly #waiters: (() => void)[] = []
  #available: number

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new NotConfiguredError(
        'recoveryPermits',
        `recoveryPermits must be an integer of at least 1, got ${capacity}.`,
      )
    }
    this.#available = capacity
  }

  get available(): number {
    return this.#available
  }

  get inFlight(): number {
    return this.capacity - this.#available
  }

  /** Resolves when a permit is held; call the returned function exactly once to release it. */
  acquire(): Promise<() => void> {
    const release = once(() => {
      const next = this.#waiters.shift()
      if (next) next()
      else this.#available++
    })
    if (this.#available > 0) {
      this.#available--
      return Promise.resolve(release)
    }
    return new Promise((resolve) => this.#waiters.push(() => resolve(release)))
  }
}

function once(fn: () => void): () => void {
  let done = false
  return () => {
    if (done) return
    done = true
    fn()
  }
}
