import { emmettDurablePeer, emmettMemoryPeer, emmettSharedPeer } from './cases/emmett-case.ts'
import { kyselyRepositoryPeer } from './cases/kysely-repository-case.ts'
import { statesourceMemoryPeer, statesourcePeer } from './cases/statesource-case.ts'
import type { PeerDefinition } from './peer-definition.ts'

/** Every peer a child process can run, by name. */
export const PEERS: Readonly<Record<string, PeerDefinition>> = Object.fromEntries(
  [
    statesourcePeer,
    statesourceMemoryPeer,
    emmettDurablePeer,
    emmettSharedPeer,
    emmettMemoryPeer,
    kyselyRepositoryPeer,
  ].map((peer) => [peer.name, peer]),
)

/** The peer of that name, or an error listing the known ones. */
export function peerNamed(name: string): PeerDefinition {
  const peer = PEERS[name]
  if (!peer) throw new Error(`Unknown benchmark peer "${name}". Known: ${Object.keys(PEERS).join(', ')}.`)
  return peer
}

/**
 * The peers the concurrency sweep runs beside statesource, every round, at each concurrency. `workload`:
 * `main` runs the same workload as statesource; `peer` a smaller one with the same 20 commands per cart, for
 * peers that run one command at a time (so a run fits in the time budget). A new case file adds its peer here.
 */
export const SWEEP_PEERS: readonly { readonly peer: string; readonly workload: 'main' | 'peer' }[] = [
  { peer: 'emmett-durable', workload: 'peer' },
  { peer: 'kysely-repository', workload: 'peer' },
]
