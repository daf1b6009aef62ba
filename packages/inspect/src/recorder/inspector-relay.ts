import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createWebSocketInspector } from '@statelyai/inspect'
import { StatesourceError } from '@statesource/core'
import type { InspectionEvent } from 'xstate'
import { WebSocket, WebSocketServer } from 'ws'

/** Options of {@link startInspectorRelay}. */
export interface InspectorRelayOptions {
  /** Port of the HTTP page and the WebSocket. Default 8080; `0` picks a free one. */
  readonly port?: number
  /** Interface to listen on. Default `'127.0.0.1'` (this machine only). */
  readonly host?: string
  /** How many recent messages a newly connected page is sent. Default 200. */
  readonly bufferSize?: number
  /** The Stately inspector UI the bridge page embeds. Default `'https://stately.ai/inspect'` (needs the network). */
  readonly inspectorUrl?: string
}

/** A running relay: open `url` in a browser, connect apps to `wsUrl`. */
export interface InspectorRelay {
  /** The bridge page (embeds the Stately inspector UI). */
  readonly url: string
  /** Where {@link connectInspector} sends events. */
  readonly wsUrl: string
  close(): Promise<void>
}

/**
 * Starts a local relay between apps and the Stately inspector: apps send inspection events over a
 * WebSocket, the relay forwards them to every other connection (the bridge page, or any receiver) and
 * replays the last `bufferSize` messages to each new one.
 *
 * @example
 * ```ts
 * const relay = await startInspectorRelay({ port: 8080 })
 * const inspector = connectInspector({ url: relay.wsUrl })
 * const handles = await topology.materialize({ inspect: inspector.inspect })
 * console.log(`open ${relay.url}`)
 * ```
 *
 * @remarks
 * The relay and the WebSocket work offline. The page it serves embeds the hosted Stately inspector, which
 * needs the network; offline, record with `createInspectionRecorder` and use the lifecycle viewer. Unlike
 * `createInspectorServer` of `@statelyai/inspect/server`, it listens on loopback only unless told
 * otherwise, and never opens a browser.
 */
export async function startInspectorRelay(options: InspectorRelayOptions = {}): Promise<InspectorRelay> {
  const port = options.port ?? 8080
  const host = options.host ?? '127.0.0.1'
  const bufferSize = options.bufferSize ?? 200
  const inspectorUrl = options.inspectorUrl ?? 'https://stately.ai/inspect'
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new StatesourceError('INVALID_INPUT', `port must be an integer from 0 to 65535, got ${port}.`)
  }
  if (!Number.isInteger(bufferSize) || bufferSize < 0) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `bufferSize must be an integer of at least 0, got ${bufferSize}.`,
    )
  }
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(bridgePage(inspectorUrl))
  })
  const wss = new WebSocketServer({ server })
  const buffer: string[] = []
  wss.on('connection', (socket) => {
    for (const message of buffer) socket.send(message)
    socket.on('message', (data) => {
      const message = data.toString()
      buffer.push(message)
      if (buffer.length > bufferSize) buffer.shift()
      for (const client of wss.clients) {
        if (client !== socket && client.readyState === WebSocket.OPEN) client.send(message)
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new StatesourceError(
          'INVALID_INPUT',
          `The inspector relay cannot listen on ${host}:${port}: ${error.message}. Pick another port.`,
          { cause: error },
        ),
      ),
    )
    server.listen(port, host, resolve)
  })
  const address = server.address() as AddressInfo
  const authority = `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  return {
    url: `http://${authority}/`,
    wsUrl: `ws://${authority}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate()
        wss.close(() => server.close(() => resolve()))
      }),
  }
}

function bridgePage(inspectorUrl: string): string {
  const src = JSON.stringify(inspectorUrl).replace(/</g, '\\u003c')
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>statesource · Stately inspector</title>
<style>html,body,iframe{margin:0;height:100%;width:100%;border:0}</style></head>
<body><iframe id="inspector"></iframe>
<script>
const iframe = document.getElementById('inspector')
iframe.src = ${src}
const pending = []
let connected = false
addEventListener('message', (e) => {
  if (e.data && e.data.type === '@statelyai.connected') {
    connected = true
    for (const m of pending.splice(0)) iframe.contentWindow.postMessage(m, '*')
  }
})
const ws = new WebSocket('ws://' + location.host)
ws.onmessage = (e) => {
  const data = JSON.parse(e.data)
  if (connected) iframe.contentWindow.postMessage(data, '*')
  else pending.push(data)
}
</script></body></html>`
}

/** Options of {@link connectInspector}: those of `createWebSocketInspector` from `@statelyai/inspect`. */
export interface ConnectInspectorOptions
  extends Omit<NonNullable<Parameters<typeof createWebSocketInspector>[0]>, 'url'> {
  /** The relay's WebSocket URL, e.g. `relay.wsUrl`. Default `'ws://127.0.0.1:8080'`. */
  readonly url?: string
}

/** A WebSocket inspector connected to a relay. */
export interface ConnectedInspector {
  /** Pass to `materialize({ inspect })` or `createActor(..., { inspect })`. */
  readonly inspect: (event: InspectionEvent) => void
  stop(): void
}

/**
 * Sends XState inspection events to a relay (this package's {@link startInspectorRelay} or
 * `@statelyai/inspect/server`) through `@statelyai/inspect`'s WebSocket inspector.
 *
 * @example
 * ```ts
 * const inspector = connectInspector({ url: 'ws://127.0.0.1:8080' })
 * await topology.materialize({ inspect: inspector.inspect })
 * ```
 *
 * @remarks
 * The same as `createWebSocketInspector({ url }).inspect`, which works as well when passed straight to
 * `materialize`: the gateway's snapshot serializes to its counters (`toJSON`) and its pipeline events are
 * emitted events, which inspectors never see. This wrapper only defaults to `127.0.0.1` rather than
 * `localhost` and hands back a plain function.
 */
export function connectInspector(options: ConnectInspectorOptions = {}): ConnectedInspector {
  const { url = 'ws://127.0.0.1:8080', ...rest } = options
  const inspector = createWebSocketInspector({ ...rest, url })
  return {
    inspect: (event) => inspector.inspect.next?.(event),
    stop: () => inspector.stop(),
  }
}
