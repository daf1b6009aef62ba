import { isIP } from 'node:net'

/** @internal Whether `host` (as given to `listen`) is a loopback address or name. */
export function isLoopback(host: string): boolean {
  return host === '::1' || host === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** @internal Whether a URL host name (`[::1]` in brackets) is a loopback name or address. */
export function isLoopbackName(hostname: string): boolean {
  return hostname === '[::1]' || isLoopback(hostname)
}

/** @internal Whether a URL host name is an IP address (v4, or v6 in brackets). */
export function isAddress(hostname: string): boolean {
  return isIP(hostname.replace(/^\[(.*)\]$/, '$1')) !== 0
}

/**
 * @internal Whether a `Host` header names this server: a host name `nameAllowed` accepts, with the port it
 * listens on. Anything else is a request meant for another site, such as a page of a DNS-rebinding attack
 * whose name now resolves to this machine.
 */
export function authorityAllowed(
  authority: string,
  port: number,
  nameAllowed: (hostname: string) => boolean,
): boolean {
  if (/[/?#@\\\s]/.test(authority)) return false
  let url: URL
  try {
    url = new URL(`http://${authority}`)
  } catch {
    return false
  }
  if ((url.port === '' ? 80 : Number(url.port)) !== port) return false
  return nameAllowed(url.hostname)
}

/** @internal Whether a browser's `Origin` is a page of this server (see {@link authorityAllowed}). */
export function originAllowed(
  origin: string,
  port: number,
  nameAllowed: (hostname: string) => boolean,
): boolean {
  return origin.startsWith('http://') && authorityAllowed(origin.slice('http://'.length), port, nameAllowed)
}
