// Helpers for the compactor's integration tests: compactors, the snapshot table and topic, the
// DocSnapshot envelope (schemas/doc_snapshot.v1.avsc) decoded here independently of quire's C
// codec, and `quire doc get`. Built on stack.mjs and readmodel.mjs.
import { execFileSync } from 'node:child_process'
import { env, startRole, freePort, quire, waitFor } from './stack.mjs'

// psql with room for large results (the event index of a 259,778-event document).
function psql (sql) {
  return execFileSync('psql', [env.QUIRE_PG, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql],
    { maxBuffer: 1 << 30 }).toString().trim()
}

export const SNAPSHOT_TOPIC = `${env.QUIRE_TOPIC_PREFIX || 'quire'}.doc-snapshots`

// Test policy: small thresholds so that small documents get several snapshots; a loose budget:
// the test documents' random chunks make states as large as their events.
export const TEST_POLICY = ['--min-snapshot-bytes', '4KiB', '--quiet-period', '1s', '--retry', '50ms',
  '--max-amplification', '10']

export async function startCompactor (name, args = []) {
  const port = await freePort()
  const role = await startRole(name, ['compactor', '--admin-listen', `127.0.0.1:${port}`,
    '--session-timeout', '6s', ...args], { healthUrl: `http://127.0.0.1:${port}/healthz` })
  role.adminUrl = `http://127.0.0.1:${port}`
  role.metric = async (name) => {
    const text = await (await fetch(`${role.adminUrl}/metrics`)).text()
    const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'))
    return line ? Number(line.split(' ').pop()) : 0
  }
  return role
}

// Runs a compactor until it is idle (everything read, nothing due); returns its stats line.
export function compactUntilIdle (args = []) {
  const out = execFileSync(env.QUIRE_BIN, ['compactor', '--until-idle', '--session-timeout', '6s',
    ...args], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26, timeout: 300000 })
  return out.toString()
}

function varint (buf, at) {
  let shift = 0n; let v = 0n; let b
  do {
    b = buf[at.i++]
    v |= BigInt(b & 0x7f) << shift
    shift += 7n
  } while (b & 0x80)
  return Number((v >> 1n) ^ -(v & 1n)) // zigzag
}

// Decodes one DocSnapshot message (Confluent framing + Avro binary of schema id 3).
export function decodeSnapshot (buf) {
  if (buf.length < 5 || buf[0] !== 0) throw new Error('not a Confluent-framed message')
  const schemaId = buf.readUInt32BE(1)
  const at = { i: 5 }
  const bytes = () => { const n = varint(buf, at); const b = buf.subarray(at.i, at.i + n); at.i += n; return b }
  const docId = bytes().toString()
  const partition = varint(buf, at)
  const position = varint(buf, at)
  const state = bytes()
  const hash = buf.subarray(at.i, at.i + 32); at.i += 32
  const created = varint(buf, at)
  return { schemaId, docId, partition, position, state: Buffer.from(state), hash: Buffer.from(hash), created }
}

// Every message of the snapshot topic: [{ key, partition, offset, value: decoded | null }].
export function snapshotTopic () {
  const out = execFileSync('kcat', ['-b', env.QUIRE_KAFKA_BROKERS, '-C', '-t', SNAPSHOT_TOPIC,
    '-e', '-q', '-f', '%k\t%p\t%R%s'], { maxBuffer: 1 << 30 })
  const msgs = []
  let i = 0
  while (i < out.length) {
    const t1 = out.indexOf(9, i)
    const key = out.subarray(i, t1).toString()
    const t2 = out.indexOf(9, t1 + 1)
    const partition = Number(out.subarray(t1 + 1, t2).toString())
    const len = out.readInt32BE(t2 + 1)
    i = t2 + 5
    const value = len > 0 ? out.subarray(i, i + len) : null
    i += Math.max(len, 0)
    msgs.push({ key, partition, value: value ? decodeSnapshot(value) : null })
  }
  return msgs
}

// The snapshot history table rows of a document, oldest first.
export function snapshotRows (doc) {
  const rows = psql(`SELECT position, version, octet_length(ydoc), encode(content_hash, 'hex'),
    event_count, event_bytes, published, encode(ydoc, 'hex') FROM doc_snapshots
    WHERE doc_id = '${doc}' ORDER BY position`)
  return rows.split('\n').filter(Boolean).map((l) => {
    const [position, version, size, hash, count, bytes, published, hex] = l.split('|')
    return {
      position: Number(position), version: Number(version), size: Number(size), hash,
      eventCount: Number(count), eventBytes: Number(bytes), published: published === 't',
      state: Buffer.from(hex, 'hex')
    }
  })
}

// The document's indexed events (offset, size, kind), oldest first.
export function indexedEvents (doc) {
  return psql(`SELECT "offset", size, kind FROM doc_events WHERE doc_id = '${doc}' ORDER BY "offset"`)
    .split('\n').filter(Boolean).map((l) => {
      const [offset, size, kind] = l.split('|').map(Number)
      return { offset, size, kind }
    })
}

// `quire doc get` as JSON (at: an offset, a time, or undefined for now).
export function docGet (doc, at) {
  const args = ['doc', 'get', doc, '--log-level', 'warn']
  if (at !== undefined) args.push('--at', String(at))
  return JSON.parse(quire(args))
}

// The BYTES threshold of compactor_policy.h for a snapshot of `size` bytes.
export function threshold (size, { fraction = 1.0, minBytes = 4096 } = {}) {
  return Math.max(Math.floor(fraction * size), minBytes)
}

export { waitFor }
