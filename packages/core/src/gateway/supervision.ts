// Hot path: measured by packages/bench/src/cases/statesource-case.ts (pnpm bench). Measure before and after changing this file.
import { StatesourceError } from '../errors.ts'
import type { RestartLimit } from './gateway-config.ts'

/**
 * The restart limit of aggregates whose live actor fails: each failure is a restart (recovery from the
 * journal on the next command), until `maxRestarts` within `withinMs` is exceeded; then the aggregate is
 * refused for `withinMs`.
 */
export class Supervision {
  readonly #limit: RestartLimit
  /** Per aggregate that failed: the times of its recent failures, and until when it is refused. */
  readonly #health = new Map<string, { restarts: number[]; failingUntil: number }>()

  constructor(limit: RestartLimit) {
    this.#limit = limit
  }

  /** The error a command gets while its aggregate is refused, or undefined. */
  refusal(pid: string): StatesourceError | undefined {
    const health = this.#health.get(pid)
    if (!health || health.failingUntil <= Date.now()) return undefined
    const { maxRestarts, withinMs } = this.#limit
    return new StatesourceError(
      'AGGREGATE_FAILING',
      `Aggregate "${pid}" failed ${maxRestarts + 1} times within ${withinMs} ms (restartLimit.maxRestarts is ${maxRestarts}) and is refused until ${new Date(health.failingUntil).toISOString()}. Check the logs for its errors (a throwing action in its machine?).`,
    )
  }

  /** Counts a failure of an aggregate's live actor; true when it is refused from now on. */
  failed(pid: string): boolean {
    const now = Date.now()
    const health = this.#health.get(pid) ?? { restarts: [], failingUntil: 0 }
    health.restarts = health.restarts.filter((t) => now - t < this.#limit.withinMs)
    health.restarts.push(now)
    if (health.restarts.length > this.#limit.maxRestarts) {
      health.failingUntil = now + this.#limit.withinMs
      health.restarts = []
    }
    this.#health.set(pid, health)
    return health.failingUntil > now
  }
}
