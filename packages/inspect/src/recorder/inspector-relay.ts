import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createWebSocketInspector } from '@statelyai/inspect'
import { StatesourceError } from '@statesource/core'
import { WebSocket, WebSocketServer } from 'ws'
import type { InspectionEvent } from 'xstate'
import { authorityAllowed, isAddress, isLoopback, isLoopbackName, originAllowed } from '../http/host-check.ts'

/** What {@link startInspectorRelay} is created with; every field has a default. */
export interface InspectorRelayConfig {
  /** Port of the HTTP page and the WebSocket. Default 8080; `0` picks a free one. */
  readonly port?: number
  /**
   * Interface to listen on. Default `'127.0.0.1'` (this machine only). Any other than a loopback address
   * (`127.x.y.z`, `::1`, `localhost`) needs `allowRemote: true`.
   */
  readonly host?: string
  /**
   * Opt-in to listen beyond loopback (`host: '0.0.0.0'`): anyone who can reach the port then sees the
   * inspected events (commands, context) and can send events. Default false.
   */
  readonly allowRemote?: boolean
  /**
   * Host names accepted in the `Host` and `Origin` headers besides loopback names and addresses (and, with
   * `allowRemote`, any IP address), e.g. the name you reach the relay by. Default none: a page served under
   * any other name (a DNS-rebinding attack) is refused.
   */
  readonly allowedHosts?: readonly string[]
  /** How many recent messages a newly connected page is sent. Default 200. */
  readonly bufferSize?: number
  /** At most this many bytes of recent messages are kept and replayed to a new connection. Default 16 MiB. */
  readonly bufferBytes?: number
  /**
   * The largest message accepted, in bytes (WebSocket `maxPayload`); a connection that sends a larger one is
   * closed (code 1009). Default 1 MiB.
   */
  readonly maxMessageBytes?: number
  /** The Stately inspector UI the bridge page embeds. Default `'https://stately.ai/inspect'` (needs the network). */
  readonly inspectorUrl?: string
}

/** @deprecated Use {@link InspectorRelayConfig}: a factory's input is an `XConfig`. */
export type InspectorRelayOptions = InspectorRelayConfig

/** A running relay: open `url` in a browser, connect apps to `wsUrl`. */
export interface InspectorRelay {
  /** The bridge page (embeds the Stately inspector UI). */
  readonly url: string
  /** Where {@link connectInspector} sends events. */
  readonly wsUrl: string
  close(): Promise<void>
}

/** The inspection events the Stately inspector understands; the relay forwards nothing else. */
const INSPECTION_TYPES = new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot'])

/**
 * Starts a local relay between apps and the Stately inspector: apps send inspection events over a
 * WebSocket, the relay forwards them to every other connection (the bridge page, or any receiver) and
 * replays the recent ones (at most `bufferSize` messages and `bufferBytes` bytes) to each new one.
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
 * otherwise (`allowRemote`), and never opens a browser.
 *
 * What it lets in: HTTP requests and WebSocket upgrades whose `Host` is a loopback name or address (with
 * `allowRemote`, any IP address) or one of `allowedHosts`, with the relay's port (otherwise `421`); upgrades from browsers only from the relay's
 * own page (any other `Origin` gets `403`; clients without an `Origin`, such as Node apps, are accepted);
 * text messages of at most `maxMessageBytes` that are JSON inspection events (`@xstate.actor`,
 * `@xstate.event`, `@xstate.snapshot`); anything else is dropped. A bad frame closes that connection only. A
 * receiver that lets more than `bufferBytes` pile up unread is disconnected.
 */
export async function startInspectorRelay(options: InspectorRelayConfig = {}): Promise<InspectorRelay> {
  const port = options.port ?? 8080
  const host = options.host ?? '127.0.0.1'
  const bufferSize = options.bufferSize ?? 200
  const bufferBytes = options.bufferBytes ?? 16 * 1024 * 1024
  const maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024
  const inspectorUrl = options.inspectorUrl ?? 'https://stately.ai/inspect'
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new StatesourceError('INVALID_INPUT', `port must be an integer from 0 to 65535, got ${port}.`)
  }
  if (!isLoopback(host) && options.allowRemote !== true) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The inspector relay listens on loopback only, got host "${host}": anyone who reaches it sees every inspected command and context. Pass allowRemote: true to listen on "${host}" anyway, or use an SSH tunnel.`,
    )
  }
  for (const [name, value, min] of [
    ['bufferSize', bufferSize, 0],
    ['bufferBytes', bufferBytes, 0],
    ['maxMessageBytes', maxMessageBytes, 1],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < min) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `${name} must be an integer of at least ${min}, got ${value}.`,
      )
    }
  }
  const inspectorOrigin = originOf(inspectorUrl)
  const script = bridgeScript(inspectorUrl, inspectorOrigin)
  const page = bridgePage(script)
  const policy = bridgePolicy(script, inspectorOrigin)
  const allowedHosts = new Set((options.allowedHosts ?? []).map((h) => h.toLowerCase()))
  const remote = options.allowRemote === true
  const nameAllowed = (name: string) =>
    isLoopbackName(name) || (remote && isAddress(name)) || allowedHosts.has(name)
  let listeningPort = port
  const hostAllowed = (value: string | undefined): boolean =>
    value !== undefined && authorityAllowed(value, listeningPort, nameAllowed)

  const server = createServer((req, res) => {
    if (!hostAllowed(req.headers.host)) {
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('Misdirected request: this relay answers only to its own host name.')
      return
    }
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': policy,
    })
    res.end(page)
  })
  const wss = new WebSocketServer({
    server,
    maxPayload: maxMessageBytes,
    verifyClient: ({ req, origin }, done) => {
      if (!hostAllowed(req.headers.host)) return done(false, 421, 'Misdirected Request')
      // Browsers always send an Origin: only the relay's own page may connect. Node clients send none.
      if (origin !== undefined && !originAllowed(origin, listeningPort, nameAllowed)) {
        return done(false, 403, 'Forbidden origin')
      }
      done(true)
    },
  })
  // Errors of the listening server after start (the start itself is handled below) must not crash the app.
  wss.on('error', () => {})
  const buffer: { readonly text: string; readonly bytes: number }[] = []
  let buffered = 0
  wss.on('connection', (socket) => {
    // A bad frame (oversized, malformed) ends this connection only, never the process.
    socket.on('error', () => socket.terminate())
    for (const message of buffer) socket.send(message.text)
    socket.on('message', (data, isBinary) => {
      if (isBinary) return
      const text = data.toString()
      if (!isInspectionEvent(text)) return
      const bytes = Buffer.byteLength(text)
      buffer.push({ text, bytes })
      buffered += bytes
      while (buffer.length > bufferSize || buffered > bufferBytes) buffered -= buffer.shift()!.bytes
      for (const client of wss.clients) {
        if (client === socket || client.readyState !== WebSocket.OPEN) continue
        // A receiver that does not read would make the relay hold everything sent to it.
        if (client.bufferedAmount > bufferBytes) client.terminate()
        else client.send(text)
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
  listeningPort = address.port
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

function isInspectionEvent(text: string): boolean {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return false
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const { type, sessionId } = value as { type?: unknown; sessionId?: unknown }
  return typeof type === 'string' && INSPECTION_TYPES.has(type) && typeof sessionId === 'string'
}

function originOf(inspectorUrl: string): string {
  let url: URL | undefined
  try {
    url = new URL(inspectorUrl)
  } catch {}
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new StatesourceError('INVALID_INPUT', `inspectorUrl must be an http(s) URL, got "${inspectorUrl}".`)
  }
  return url.origin
}

const BRIDGE_STYLE = 'html,body,iframe{margin:0;height:100%;width:100%;border:0}'

function bridgeScript(inspectorUrl: string, inspectorOrigin: string): string {
  const json = (value: string) => JSON.stringify(value).replace(/</g, '\\u003c')
  return `
const iframe = document.getElementById('inspector')
const inspectorOrigin = ${json(inspectorOrigin)}
iframe.src = ${json(inspectorUrl)}
const pending = []
let connected = false
addEventListener('message', (e) => {
  // Only the embedded inspector may say it is ready.
  if (e.source !== iframe.contentWindow || e.origin !== inspectorOrigin) return
  if (e.data && e.data.type === '@statelyai.connected') {
    connected = true
    for (const m of pending.splice(0)) iframe.contentWindow.postMessage(m, inspectorOrigin)
  }
})
const ws = new WebSocket('ws://' + location.host)
ws.onmessage = (e) => {
  const data = JSON.parse(e.data)
  if (connected) iframe.contentWindow.postMessage(data, inspectorOrigin)
  else if (pending.push(data) > 1000) pending.shift()
}
`
}

function bridgePage(script: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>statesource · Stately inspector</title>
<style>${BRIDGE_STYLE}</style></head>
<body><iframe id="inspector"></iframe>
<script>${script}</script></body></html>`
}

/** The bridge page may run its own inline script and style, connect to the relay and frame the inspector. */
function bridgePolicy(script: string, inspectorOrigin: string): string {
  const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`
  return [
    "default-src 'none'",
    `script-src ${hash(script)}`,
    `style-src ${hash(BRIDGE_STYLE)}`,
    "connect-src 'self'",
    `frame-src ${inspectorOrigin}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ')
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
