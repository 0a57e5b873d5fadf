// Integration (fault): kill -9 of a gateway under load. Clients sit behind a TCP proxy (the load
// balancer); when their gateway dies the proxy sends their reconnects to the other one. Every
// update acknowledged through ?quire=1 is in the log (I1), everyone converges (I2), and no
// extension client ever sees a version go backwards (I5).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { uniqueId, sleep, waitFor, shareDoc } from './lib/stack.mjs'
import { startGateway, startProxy, connect, replay, sameDoc, contains, Y } from './lib/yclient.mjs'

test('kill -9 of a gateway under load: acknowledged writes survive, clients converge on the other', { timeout: 240000 }, async () => {
  const gwA = await startGateway('gw-fault-a')
  const gwB = await startGateway('gw-fault-b')
  const proxy = await startProxy(gwA.port)
  after(async () => { proxy.close(); await gwA.kill(); await gwB.stop() })
  const doc = uniqueId('kill9')
  shareDoc(doc, 'writer0', ['writer1', 'writer2', 'observer'])
  const viaProxy = [0, 1, 2].map((i) => connect({ url: proxy.url, doc, user: `writer${i}` }))
  const onB = connect({ url: gwB.url, doc, user: 'observer' })
  const all = [...viaProxy, onB]
  for (const c of all) await c.synced()
  let stop = false
  let n = 0
  const typing = (async () => {
    while (!stop) {
      for (const c of all) {
        const t = c.ydoc.getText('t')
        t.insert(Math.floor(Math.random() * (t.length + 1)), `w${n++} `)
      }
      await sleep(20)
    }
  })()
  await sleep(2500)
  const ackedBeforeKill = viaProxy.reduce((s, c) => s + c.writes.filter((w) => w.acked).length, 0)
  assert.ok(ackedBeforeKill > 10, `writes were acknowledged before the kill (${ackedBeforeKill})`)
  proxy.setTarget(gwB.port) // the balancer's health check notices... the gateway dies now
  await gwA.kill('SIGKILL')
  await sleep(4000) // clients reconnect (stock back-off) through the proxy to gateway B
  stop = true
  await typing
  for (const c of all) await c.saved(30000)
  await waitFor('all clients to converge', () => all.every((c) => sameDoc(c.ydoc, all[0].ydoc)), { timeoutMs: 30000 })
  const fromLog = replay(doc)
  let acked = 0
  for (const c of all) {
    assert.ok(sameDoc(c.ydoc, fromLog), 'every client equals a replay of the log')
    assert.equal(c.q.backwards, 0, 'no version went backwards (I5)')
    for (const w of c.writes.filter((x) => x.acked)) {
      acked++
      assert.ok(contains(fromLog, w.payload), 'an acknowledged write is in the log (I1)')
    }
  }
  assert.ok(acked > ackedBeforeKill)
  for (const c of all) c.close()
})

test('graceful shutdown: pending writes are acknowledged, then sockets close with 1001 (going away)', async () => {
  const gw = await startGateway('gw-drain')
  const doc = uniqueId('drain')
  const c = connect({ url: gw.url, doc, user: 'alice' })
  await c.synced()
  let closeCode = null
  c.provider.on('connection-close', (ev) => { if (closeCode === null) closeCode = ev?.code })
  c.provider.shouldConnect = false // do not reconnect to the stopped gateway
  const t = c.ydoc.getText('t')
  for (let i = 0; i < 20; i++) t.insert(t.length, `line ${i}\n`)
  const stopping = gw.stop() // SIGTERM while writes are in flight
  await stopping
  await waitFor('the close to be seen', () => closeCode !== null)
  assert.equal(closeCode, 1001)
  const sent = c.writes.length
  const acked = c.writes.filter((w) => w.acked).length
  assert.ok(sent > 0)
  assert.equal(acked, sent, 'every write sent before the shutdown was acknowledged')
  assert.ok(contains(replay(doc), Y.encodeStateAsUpdate(c.ydoc)), 'and is in the log')
  c.close()
})
