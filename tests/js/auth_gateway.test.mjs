// Security suite, the gateway's half (docs/auth.md "For the gateway"): per-document access at the
// socket, through lib/auth/quire_access (membership at join, viewers
// read-only, client ids bound through ingest's hook, `member:` messages, sessions checked at the
// upgrade, re-validation of expired access).
//   - a document the user may not read is 404 at the upgrade, like a missing one
//   - a viewer's Update and SyncStep2 get the permission-denied message and never reach Kafka;
//     the viewer keeps reading
//   - an update forged with another user's client id closes the socket (4409), nothing produced
//   - losing membership closes the user's sockets on every gateway (4403)
//   - a revoked session's still-unexpired access token cannot open a socket (401)
//   - an expired access token's socket is closed (4401) by re-validation
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { startApi, token, uniqueId, waitFor, eventsOf, share } from './lib/stack.mjs'
import { startProjector } from './lib/readmodel.mjs'
import { startGateway } from './lib/yclient.mjs'
import { ORIGIN, Session, addUser, upgrade, closed } from './lib/auth.mjs'

let api, projector, gwA, gwB
const bearer = (t) => ({ Authorization: `Bearer ${t}` })
const alice = uniqueId('ga-alice').slice(0, 60)
const bob = uniqueId('ga-bob').slice(0, 60)

before(async () => {
  projector = await startProjector('projector-auth-gw')
  api = await startApi('api-auth-gw', ['--allowed-origins', ORIGIN])
  gwA = await startGateway('gw-auth-gw-a', ['--allowed-origins', ORIGIN])
  gwB = await startGateway('gw-auth-gw-b', ['--allowed-origins', ORIGIN])
  addUser(alice, 'a good password')
})
after(async () => {
  await gwA?.stop()
  await gwB?.stop()
  await api?.stop()
  await projector?.stop()
})

function syncMessage (type, update) { // y-protocols sync: 0 = messageSync; 1 = SyncStep2, 2 = Update
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, type)
  encoding.writeVarUint8Array(e, update)
  return encoding.toUint8Array(e)
}

function isPermissionDenied (m) {
  const d = decoding.createDecoder(m)
  return decoding.readVarUint(d) === 2 && decoding.readVarUint(d) === 0
}

function edit (text, clientID = null) {
  const y = new Y.Doc()
  if (clientID !== null) y.clientID = clientID
  y.getText('t').insert(0, text)
  return { update: Y.encodeStateAsUpdate(y), clientID: y.clientID }
}

async function createDoc (owner) {
  const doc = uniqueId('ga-doc')
  await share(api.url, doc, token(owner), [], { create: true })
  return doc
}

test('a document one may not read is 404 at the upgrade, exactly like a missing one', async () => {
  const doc = await createDoc(alice)
  for (const gw of [gwA, gwB]) {
    const theirs = await upgrade(`${gw.url}/ws/${doc}`, { headers: bearer(token(bob)) })
    assert.deepEqual([theirs.open, theirs.status], [false, 404])
    const mine = await upgrade(`${gw.url}/ws/${doc}`, { headers: bearer(token(alice)) })
    assert.equal(mine.open, true)
    mine.ws.close()
  }
})

test('viewers: Update and SyncStep2 refused with permission-denied, nothing in Kafka; they keep reading', async () => {
  const doc = await createDoc(alice)
  await share(api.url, doc, token(alice), [bob], { role: 'viewer' })
  const v = await upgrade(`${gwA.url}/ws/${doc}`, { headers: bearer(token(bob)) })
  assert.equal(v.open, true, 'viewers connect')
  v.ws.send(Uint8Array.from([0, 0, 1, 0])) // SyncStep1 (empty state vector): updates flow from now on
  const before = eventsOf(doc).length
  for (const type of [2, 1]) {
    const n = v.got.messages.length
    v.ws.send(syncMessage(type, edit(`viewer ${type}`).update))
    await waitFor('the permission-denied answer', () => v.got.messages.slice(n).some(isPermissionDenied))
    assert.equal(v.ws.readyState, 1, 'the socket stays open')
  }
  assert.equal(eventsOf(doc).length, before, 'nothing reached Kafka')
  // the viewer still receives the owner's edits
  const n = v.got.messages.length
  const o = await upgrade(`${gwB.url}/ws/${doc}`, { headers: bearer(token(alice)) })
  o.ws.send(syncMessage(2, edit('owner writes').update))
  await waitFor('the owner\'s update on the viewer\'s socket', () => v.got.messages.slice(n).some((m) => m[0] === 0 && m[1] === 2))
  v.ws.close()
  o.ws.close()
})

test('an update with another user\'s client id closes the socket (4409) and never reaches Kafka', async () => {
  const doc = await createDoc(alice)
  await share(api.url, doc, token(alice), [bob])
  const a = await upgrade(`${gwA.url}/ws/${doc}`, { headers: bearer(token(alice)) })
  const mine = edit('alice', 777000 + Math.floor(Math.random() * 1000))
  a.ws.send(syncMessage(2, mine.update))
  await waitFor('alice\'s write in the log', () => eventsOf(doc).some((e) => e.actor === alice && e.kind === 'UPDATE'))
  const before = eventsOf(doc).length
  for (const gw of [gwA, gwB]) {
    const b = await upgrade(`${gw.url}/ws/${doc}`, { headers: bearer(token(bob)) })
    const c = closed(b.ws)
    b.ws.send(syncMessage(2, edit('bob as alice', mine.clientID).update))
    assert.equal((await c)?.code, 4409)
  }
  assert.equal(eventsOf(doc).length, before)
  a.ws.close()
})

test('losing membership closes the user\'s sockets on every gateway (4403)', async () => {
  const doc = await createDoc(alice)
  await share(api.url, doc, token(alice), [bob])
  const socks = []
  for (const gw of [gwA, gwB]) socks.push((await upgrade(`${gw.url}/ws/${doc}`, { headers: bearer(token(bob)) })).ws)
  const closes = socks.map((ws) => closed(ws))
  const r = await fetch(`${api.url}/v1/docs/${doc}/members/${bob}`, { method: 'DELETE', headers: bearer(token(alice)) })
  assert.equal(r.status, 204)
  for (const c of await Promise.all(closes)) assert.equal(c?.code, 4403)
  const again = await upgrade(`${gwA.url}/ws/${doc}`, { headers: bearer(token(bob)) })
  assert.deepEqual([again.open, again.status], [false, 404])
})

test('a revoked session cannot open a socket with its unexpired access token', async () => {
  const doc = await createDoc(alice)
  const s = new Session(api)
  assert.equal((await s.login(alice, 'a good password')).status, 200)
  const access = s.access
  assert.equal((await s.req('POST', '/v1/auth/logout')).status, 204)
  for (const gw of [gwA, gwB]) {
    const u = await upgrade(`${gw.url}/ws/${doc}`, { headers: bearer(access) })
    assert.deepEqual([u.open, u.status], [false, 401])
  }
})

test('an expired access token\'s socket is closed by re-validation (4401)', { timeout: 180000 }, async () => {
  const doc = await createDoc(alice)
  const short = token(alice, '2s') // expires in 2 s; accepted for the 30 s leeway after that
  const u = await upgrade(`${gwA.url}/ws/${doc}`, { headers: bearer(short) })
  assert.equal(u.open, true)
  const c = await closed(u.ws, 150000)
  assert.equal(c?.code, 4401)
})
