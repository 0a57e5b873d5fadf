// quire's WebSocket extension for a stock y-websocket WebsocketProvider (docs/protocol.md).
//
//   import { attachQuire } from './quire-ext.js'
//   const provider = new WebsocketProvider(url, docId, ydoc, { params: { quire: '1' } })
//   const q = attachQuire(provider, { onChange: (s) => render(s.saved) })
//
// It numbers the provider's writes (SyncStep2 and Update messages) per connection, handles the
// server's ACK / NACK / VERSION messages (types 100-102), sends RESUME (103) with the last
// version seen right after every (re)connect, and stops reconnecting on permanent close codes.
// "saved" is true only when the socket is open and every write sent on it was acknowledged.
// No dependencies: it reads lib0 varUints itself, so it runs in the browser bundle and in Node.

export const MSG_ACK = 100
export const MSG_NACK = 101
export const MSG_VERSION = 102
export const MSG_RESUME = 103
const RETRY_CODES = new Set([4401, 4408, 4429])

function readVarUint (decoder) {
  let num = 0
  let mult = 1
  for (;;) {
    const b = decoder.arr[decoder.pos++]
    if (b === undefined) throw new Error('unexpected end of message')
    num += (b & 0x7f) * mult
    mult *= 128
    if (b < 0x80) return num
  }
}

function readVarString (decoder) {
  const len = readVarUint(decoder)
  const bytes = decoder.arr.subarray(decoder.pos, decoder.pos + len)
  decoder.pos += len
  return new TextDecoder().decode(bytes)
}

function writeVarUint (out, num) {
  while (num > 0x7f) {
    out.push((num % 128) | 0x80)
    num = Math.floor(num / 128)
  }
  out.push(num)
}

export function attachQuire (provider, { onChange = () => {}, onNack = () => {} } = {}) {
  const state = {
    version: -1,          // highest version seen (never goes back)
    sent: 0,              // writes sent on the current connection
    acked: 0,             // highest acknowledged write on the current connection
    connected: false,
    saved: true,
    backwards: 0,         // times the server showed an older version than one seen (must stay 0)
    lastClose: null,      // { code, reason } of the last close
    nacks: []
  }
  const update = () => {
    const saved = state.connected && state.acked === state.sent
    state.saved = saved
    onChange(state)
  }
  const seeVersion = (v) => {
    if (v < state.version) state.backwards++
    else state.version = v
  }
  provider.messageHandlers[MSG_ACK] = (encoder, decoder) => {
    const seq = readVarUint(decoder)
    seeVersion(readVarUint(decoder))
    if (seq > state.acked) state.acked = seq
    update()
  }
  provider.messageHandlers[MSG_NACK] = (encoder, decoder) => {
    const seq = readVarUint(decoder)
    const code = readVarUint(decoder)
    const reason = readVarString(decoder)
    state.nacks.push({ seq, code, reason })
    onNack({ seq, code, reason })
    update()
  }
  provider.messageHandlers[MSG_VERSION] = (encoder, decoder) => {
    seeVersion(readVarUint(decoder))
  }
  provider.on('status', ({ status }) => {
    if (status === 'connected') {
      const ws = provider.ws
      state.sent = 0
      state.acked = 0
      state.connected = true
      const send = ws.send.bind(ws)
      if (state.version >= 0) {
        const out = []
        writeVarUint(out, MSG_RESUME)
        writeVarUint(out, state.version)
        send(new Uint8Array(out))
      }
      ws.send = (data) => {
        const b = data instanceof Uint8Array ? data : new Uint8Array(data)
        if (b[0] === 0 && (b[1] === 1 || b[1] === 2)) state.sent++
        send(data)
      }
    } else {
      state.connected = false
    }
    update()
  })
  provider.on('connection-close', (event) => {
    state.lastClose = event ? { code: event.code, reason: event.reason } : null
    if (event && event.code >= 4400 && event.code < 4500 && !RETRY_CODES.has(event.code)) {
      provider.disconnect() // permanent: reconnecting would be refused again
    }
    state.connected = false
    update()
  })
  return state
}
