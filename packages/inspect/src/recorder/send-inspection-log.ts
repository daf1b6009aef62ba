import { StatesourceError } from '@statesource/core'
import { WebSocket } from 'ws'
import { type RecordedInspectionEvent, readInspectionLog } from './inspection-recorder.ts'

/** Options of {@link sendInspectionLog}. */
export interface SendInspectionLogOptions {
  /** The inspector server's WebSocket: `relay.wsUrl`, or `ws://localhost:8080` of `@statelyai/inspect/server`. */
  readonly url: string
  /** Give up connecting after this long. Default 5,000 ms. */
  readonly connectTimeoutMs?: number
}

/**
 * Sends a recording written by `createInspectionRecorder` to a running inspector server, in order: the
 * `@xstate.actor`, `@xstate.event` and `@xstate.snapshot` lines, which are what the Stately inspector
 * draws (statesource's pipeline lines are left out). Resolves with the number of events sent once the
 * socket has written them all.
 *
 * @example
 * ```ts
 * const relay = await startInspectorRelay({ port: 0, bufferSize: 10_000 })
 * const sent = await sendInspectionLog('inspection.jsonl', { url: relay.wsUrl })
 * console.log(`${sent} events; open ${relay.url}`)
 * ```
 *
 * @remarks
 * Inspector servers replay a limited number of recent messages to a page that connects later (200 for both
 * `startInspectorRelay` and `@statelyai/inspect/server`): open the page first, or give the relay a
 * `bufferSize` of at least the recording's length, as `statesource replay` does.
 */
export async function sendInspectionLog(
  file: string | readonly RecordedInspectionEvent[],
  options: SendInspectionLogOptions,
): Promise<number> {
  const events = (typeof file === 'string' ? await readInspectionLog(file) : file).filter((e) =>
    e.type.startsWith('@xstate.'),
  )
  const socket = new WebSocket(options.url)
  const timeoutMs = options.connectTimeoutMs ?? 5_000
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
      socket.once('open', () => {
        clearTimeout(timer)
        resolve()
      })
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
    })
  } catch (error) {
    socket.terminate()
    throw new StatesourceError(
      'INVALID_INPUT',
      `Cannot connect to the inspector server at "${options.url}": ${(error as Error).message}. Start one (statesource replay without --to starts a relay) or pass its WebSocket URL.`,
      { cause: error },
    )
  }
  try {
    for (const event of events) {
      await new Promise<void>((resolve, reject) =>
        socket.send(JSON.stringify(event), (error) => (error ? reject(error) : resolve())),
      )
    }
  } finally {
    await new Promise<void>((resolve) => {
      // A server that never answers the close handshake is cut off after a second.
      const timer = setTimeout(() => socket.terminate(), 1_000)
      socket.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      socket.close()
    })
  }
  return events.length
}
