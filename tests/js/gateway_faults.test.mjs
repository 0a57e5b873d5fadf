// Integration (fault): kill -9 of a gateway under load. Clients sit behind a TCP proxy (the load
// balancer); when their gateway dies the proxy sends their reconnects to the other one. Every
// update acknowledged through ?quire=1 is in the log (I1), everyone converges (I2), and no
// extension client ever sees a version go backwards (I5).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { uniqueId, sleep, waitFor } from './lib/stack.mjs'
import { startGateway, startProxy, connect, replay, sameDoc, contains } from './lib/yclient.mjs'

test('kill -9 of a gateway under load: acknowledged writes survive, clients converge on the other', { timeout: 240000 }, async () => {
  const gwA = await startGateway('gw-fault-a')
  const gwB = await startGateway('gw-fault-b')
  const proxy = await startProxy(gwA.port)
  after(async () => { proxy.close(); await gwA.kill(); await gwB.stop() })
  const doc = uniqueId('kill9')
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
