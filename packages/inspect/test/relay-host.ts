// An application process that runs an inspector relay: the security tests attack it from outside and check
// that it is still alive afterwards. Prints the relay's URLs as one JSON line, exits when stdin closes.
import { startInspectorRelay } from '../src/recorder/inspector-relay.ts'

const relay = await startInspectorRelay({ port: 0 })
process.stdout.write(`${JSON.stringify({ url: relay.url, wsUrl: relay.wsUrl })}\n`)
process.stdin.resume()
process.stdin.on('end', () => void relay.close().then(() => process.exit(0)))
